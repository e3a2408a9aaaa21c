"""Lifecycle (unopened, open, closed), injected HTTP clients and transports, ``from_env``, and the
warning for a plain-http base URL."""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
import respx
from core_helpers import PASSWORD, USERNAME

from mysms_async import (
    ClientClosedError,
    ConfigurationError,
    InsecureURLWarning,
    MySMSClient,
    MySMSError,
    ValidationError,
)
from mysms_async._exchange_aiohttp import AiohttpExchange
from mysms_async._exchange_httpx import HttpxExchange
from mysms_async._pool import SlotPool
from mysms_async.testing import FakeGateway

BASE_URL = "https://my-sms.ru/rest/sms/"
OK_BALANCE = {"state": "0", "balance": "5,00"}


class RecordingTransport(httpx.AsyncBaseTransport):
    """Answers every request with a balance and counts requests and closes."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.closed = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json=OK_BALANCE)

    async def aclose(self) -> None:
        self.closed += 1


async def test_async_with_opens_and_closes() -> None:
    transport = RecordingTransport()
    client = MySMSClient(USERNAME, PASSWORD, transport=transport)
    assert "state='unopened'" in repr(client)
    async with client as entered:
        assert entered is client
        assert not client.is_closed
        assert "state='opened'" in repr(client)
        assert str((await client.balance()).amount) == "5.00"
    assert client.is_closed
    assert "state='closed'" in repr(client)
    assert transport.closed == 1  # the owned pool, and its transport, are closed
    assert len(transport.requests) == 1


async def test_async_with_closes_when_the_body_raises() -> None:
    transport = RecordingTransport()
    client = MySMSClient(USERNAME, PASSWORD, transport=transport)
    with pytest.raises(KeyError):
        async with client:
            raise KeyError("boom")
    assert client.is_closed
    assert transport.closed == 1


async def test_aclose_is_idempotent() -> None:
    transport = RecordingTransport()
    client = MySMSClient(USERNAME, PASSWORD, transport=transport)
    await client.aclose()
    await client.aclose()
    async with MySMSClient(USERNAME, PASSWORD, transport=transport) as other:
        pass
    await other.aclose()
    assert client.is_closed
    assert other.is_closed
    assert transport.closed == 2  # once per client, however often aclose() was called


async def test_an_unopened_client_can_be_used_and_closed() -> None:
    transport = RecordingTransport()
    client = MySMSClient(USERNAME, PASSWORD, transport=transport)
    balance = await client.balance()
    await client.aclose()
    assert str(balance.amount) == "5.00"
    assert transport.closed == 1


async def test_a_closed_client_cannot_be_used_or_reopened() -> None:
    transport = RecordingTransport()
    client = MySMSClient(USERNAME, PASSWORD, transport=transport)
    async with client:
        pass
    with pytest.raises(ClientClosedError) as caught:
        await client.balance()
    assert isinstance(caught.value, RuntimeError)
    assert "closed" in str(caught.value)
    with pytest.raises(ClientClosedError):
        await client.send("79112223333", "Hi")
    with pytest.raises(ClientClosedError):
        await client.status("id-1")
    with pytest.raises(ClientClosedError):
        async with client:
            pass
    assert transport.requests == []


async def test_a_callers_http_client_is_used_and_never_closed() -> None:
    transport = RecordingTransport()
    http = httpx.AsyncClient(transport=transport)
    try:
        async with MySMSClient(USERNAME, PASSWORD, http_client=http, retry_backoff=0) as client:
            await client.balance()
        await client.aclose()
        assert client.is_closed
        assert not http.is_closed
        assert transport.closed == 0
        # Still usable by its owner.
        response = await http.get("https://elsewhere.test/")
        assert response.status_code == 200
        assert [str(r.url) for r in transport.requests] == [
            BASE_URL + "credit/json",
            "https://elsewhere.test/",
        ]
    finally:
        await http.aclose()
    assert transport.closed == 1


async def test_a_callers_http_client_is_left_open_after_a_failure() -> None:
    with respx.mock(assert_all_called=False) as gw:
        gw.route().mock(side_effect=httpx.ConnectError("refused"))
        http = httpx.AsyncClient()
        async with MySMSClient(
            USERNAME, PASSWORD, http_client=http, retry_backoff=0, max_retries=0
        ) as client:
            with pytest.raises(MySMSError):
                await client.balance()
        assert not http.is_closed
        await http.aclose()


async def test_http_client_and_transport_together_are_refused() -> None:
    http = httpx.AsyncClient()
    try:
        with pytest.raises(ValidationError) as caught:
            MySMSClient(USERNAME, PASSWORD, http_client=http, transport=RecordingTransport())
        assert caught.value.field == "transport"
        assert "http_client" in str(caught.value)
    finally:
        await http.aclose()


def test_http_client_must_be_an_async_client() -> None:
    with httpx.Client() as sync_client, pytest.raises(ValidationError) as caught:
        MySMSClient(USERNAME, PASSWORD, http_client=sync_client)  # type: ignore[arg-type]
    assert caught.value.field == "http_client"


async def test_one_pool_serves_every_request() -> None:
    transport = RecordingTransport()
    async with MySMSClient(USERNAME, PASSWORD, transport=transport) as client:
        for _ in range(3):
            await client.balance()
    assert len(transport.requests) == 3
    assert transport.closed == 1


# ---------------------------------------------------------------------------------------------
# from_env

ENV = {
    "MYSMS_USERNAME": "bob",
    "MYSMS_PASSWORD": "env-Pa$$&word",
    "MYSMS_SENDER": "EnvSender",
    "MYSMS_BASE_URL": "https://gateway.example.com/api/sms",
    "MYSMS_FORMAT": "xml",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (*ENV, "MYSMS_METHOD"):
        monkeypatch.delenv(name, raising=False)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


async def test_from_env_reads_every_variable(env: pytest.MonkeyPatch) -> None:
    import xmltodict

    with respx.mock(assert_all_called=False) as gw:
        route = gw.post("https://gateway.example.com/api/sms/send/xml").respond(
            200,
            content=b"<sendSMS><state>0</state><data><message><id>x</id><state>2</state>"
            b"</message></data></sendSMS>",
        )
        async with MySMSClient.from_env(retry_backoff=0) as client:
            result = await client.send("79112223333", "Hi")
    assert route.call_count == 1
    body = xmltodict.parse(route.calls.last.request.content)
    assert body["sendSMS"]["auth"] == {"username": "bob", "password": "env-Pa$$&word"}
    assert body["sendSMS"]["data"]["message"]["source"] == "EnvSender"
    assert result.id == "x"
    assert "env-Pa$$" not in repr(client)


async def test_from_env_reads_the_http_method_and_keyword_overrides_win(
    env: pytest.MonkeyPatch,
) -> None:
    env.setenv("MYSMS_METHOD", "GET")
    with respx.mock(assert_all_called=False) as gw:
        route = gw.get(url__startswith="https://gateway.example.com/api/sms/send/json").respond(
            200, json={"state": "0", "data": [{"id": "x", "state": "2"}]}
        )
        async with MySMSClient.from_env(
            wire_format="json", sender="Override", retry_backoff=0
        ) as client:
            await client.send("79112223333", "Hi")
    params = route.calls.last.request.url.params
    assert params["u"] == "bob"
    assert params["p"] == "env-Pa$$&word"
    assert params["s"] == "Override"


@pytest.mark.parametrize("variable", ["MYSMS_USERNAME", "MYSMS_PASSWORD"])
@pytest.mark.parametrize("how", ["unset", "empty"])
def test_from_env_names_a_missing_credential(
    env: pytest.MonkeyPatch, variable: str, how: str
) -> None:
    if how == "unset":
        env.delenv(variable)
    else:
        env.setenv(variable, "")
    with pytest.raises(MySMSError) as caught:
        MySMSClient.from_env()
    assert variable in str(caught.value)


def test_from_env_without_optional_variables_uses_the_defaults(env: pytest.MonkeyPatch) -> None:
    for name in ("MYSMS_SENDER", "MYSMS_BASE_URL", "MYSMS_FORMAT"):
        env.delenv(name)
    client = MySMSClient.from_env()
    assert repr(client) == (
        "MySMSClient(username='bob', base_url='https://my-sms.ru/rest/sms/',"
        " wire_format='json', http_method='POST', state='unopened')"
    )


def test_from_env_with_a_bad_format_names_the_variable(env: pytest.MonkeyPatch) -> None:
    env.setenv("MYSMS_FORMAT", "yaml")
    with pytest.raises(ConfigurationError) as caught:
        MySMSClient.from_env()
    assert caught.value.variable == "MYSMS_FORMAT"
    assert str(caught.value) == (
        "environment variable MYSMS_FORMAT='yaml': must be one of json, xml"
    )
    assert isinstance(caught.value.__cause__, ValidationError)
    assert caught.value.__cause__.field == "wire_format"


def test_from_env_missing_credentials_state_the_fix_once(env: pytest.MonkeyPatch) -> None:
    env.delenv("MYSMS_USERNAME")
    env.delenv("MYSMS_PASSWORD")
    with pytest.raises(ConfigurationError) as caught:
        MySMSClient.from_env()
    message = str(caught.value)
    assert message.count("MYSMS_USERNAME") == 2  # named once, then in the export line
    assert "export MYSMS_USERNAME=... MYSMS_PASSWORD=..." in message


def test_from_env_never_quotes_a_bad_password(env: pytest.MonkeyPatch) -> None:
    env.setenv("MYSMS_PASSWORD", "bad\x01secret")  # a control character XML cannot carry
    with pytest.raises(ConfigurationError) as caught:
        MySMSClient.from_env()
    assert caught.value.variable == "MYSMS_PASSWORD"
    assert "secret" not in str(caught.value)


def test_from_env_an_override_replaces_a_bad_variable(env: pytest.MonkeyPatch) -> None:
    env.setenv("MYSMS_FORMAT", "yaml")
    client = MySMSClient.from_env(wire_format="xml")
    assert "wire_format='xml'" in repr(client)


def test_from_env_refuses_an_unknown_keyword(env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError) as caught:
        MySMSClient.from_env(batchsize=10)  # type: ignore[call-arg]
    assert caught.value.field == "batchsize"


@pytest.mark.parametrize("backend", ["httpx", "aiohttp", "auto", "HTTPX"])
def test_backend_is_validated_into_settings(backend: str) -> None:
    client = MySMSClient(USERNAME, PASSWORD, backend=backend)  # type: ignore[arg-type]
    assert client._settings.backend == backend.lower()


def test_unknown_backend_is_a_validation_error() -> None:
    with pytest.raises(ValidationError) as caught:
        MySMSClient(USERNAME, PASSWORD, backend="requests")  # type: ignore[arg-type]
    assert caught.value.field == "backend"


def test_aiohttp_backend_refuses_httpx_objects() -> None:
    with pytest.raises(ValidationError) as caught:
        MySMSClient(USERNAME, PASSWORD, backend="aiohttp", transport=RecordingTransport())
    assert caught.value.field == "backend"


# ---------------------------------------------------------------------------------------------
# InsecureURLWarning


@pytest.mark.parametrize(
    "base_url",
    ["http://my-sms.ru/rest/sms/", "http://10.0.0.5:8080/", "http://gateway.example.com"],
)
def test_plain_http_to_a_remote_host_warns(base_url: str) -> None:
    with pytest.warns(InsecureURLWarning) as record:
        MySMSClient(USERNAME, PASSWORD, base_url=base_url, transport=RecordingTransport())
    (warning,) = record
    assert warning.filename == __file__  # points at the caller's line
    assert PASSWORD not in str(warning.message)


@pytest.mark.parametrize(
    "base_url",
    [
        "https://my-sms.ru/rest/sms/",
        "http://127.0.0.1/rest/sms/",
        "http://127.0.0.1:8080/rest/sms/",
        "http://localhost:8000/",
        "http://[::1]:8000/",
        "http://gateway.test/",
    ],
)
def test_https_or_a_local_host_does_not_warn(base_url: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MySMSClient(USERNAME, PASSWORD, base_url=base_url, transport=RecordingTransport())


def test_insecure_url_warning_is_a_user_warning() -> None:
    assert issubclass(InsecureURLWarning, UserWarning)


async def test_a_plain_http_local_gateway_is_really_used() -> None:
    with respx.mock(assert_all_called=False) as gw:
        route = gw.post("http://127.0.0.1:8080/rest/sms/credit/json").respond(200, json=OK_BALANCE)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            async with MySMSClient(
                USERNAME, PASSWORD, base_url="http://127.0.0.1:8080/rest/sms/"
            ) as client:
                await client.balance()
    assert route.call_count == 1
    body: dict[str, Any] = json.loads(route.calls.last.request.content)
    assert body == {"auth": {"username": USERNAME, "password": PASSWORD}}


# --- aclose() from a foreign loop, then from the owner (issue 14 item 5) -----------------------


@pytest.fixture(scope="module")
def served_gateway() -> Iterator[str]:
    gateway = FakeGateway(accounts=())
    gateway.add_account(USERNAME, PASSWORD, balance=10)
    with gateway.serve() as base_url:
        yield base_url


@pytest.mark.parametrize("engine", ["httpx", "aiohttp"])
async def test_the_owners_aclose_closes_after_a_foreign_one(
    served_gateway: str, engine: str
) -> None:
    """A foreign ``aclose()`` (another thread, its own event loop) only marks the client
    closed; the owning loop's ``aclose()`` then still closes the engine and its connections.
    Before, the owner's call returned at once: the connection stayed open (aiohttp logged
    "Unclosed client session")."""
    client = MySMSClient(USERNAME, PASSWORD, base_url=served_gateway, backend=engine)
    await client.balance()  # a kept-alive connection, owned by this loop
    exchange = client._transport.exchange
    if isinstance(exchange, AiohttpExchange):
        session = exchange.session
        assert session is not None and not session.closed

        def still_open() -> bool:
            return not session.closed
    else:
        assert isinstance(exchange, HttpxExchange)
        pool = exchange.client._transport
        assert isinstance(pool, SlotPool) and pool.connections

        def still_open() -> bool:
            return bool(pool.connections) and not exchange.client.is_closed

    await anyio.to_thread.run_sync(lambda: asyncio.run(client.aclose()))  # raises nothing
    assert client.is_closed
    assert still_open()  # not closable from that loop: left for the owner
    with pytest.raises(ClientClosedError):
        await client.balance()
    await client.aclose()
    assert not still_open()
    await client.aclose()  # and again: nothing left to do
