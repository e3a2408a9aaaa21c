"""Conveniences peers have: the User-Agent, per-call ``timeout=``, ``with_options``."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import platform
from typing import Any

import anyio
import httpx
import pytest
from core_helpers import PASSWORD, USERNAME

import mysms_async
from mysms_async import (
    ClientClosedError,
    MySMSClient,
    TransportError,
    ValidationError,
    WrongEventLoopError,
)
from mysms_async.testing import FakeGateway, Latency

OK_BALANCE = {"state": "0", "balance": "5,00"}
OK_STATUS = {"state": "0", "data": [{"id": "1", "state": "2"}]}


def expected_agent(engine: str) -> str:
    module: Any = httpx
    if engine == "aiohttp":
        import aiohttp

        module = aiohttp
    return (
        f"mysms-async/{mysms_async.__version__} (Python {platform.python_version()};"
        f" {engine}/{module.__version__})"
    )


class Recording(httpx.AsyncBaseTransport):
    """Answers a balance (or a status for status requests) and keeps every request."""

    def __init__(self, *, hang: bool = False, code: int = 200) -> None:
        self.requests: list[httpx.Request] = []
        self.closed = 0
        self.hang = hang
        self.code = code

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.hang:
            await anyio.Event().wait()  # never answers: only a timeout ends the attempt
        if self.code != 200:
            return httpx.Response(self.code)
        body = OK_STATUS if "/status/" in request.url.path else OK_BALANCE
        return httpx.Response(200, json=body)

    async def aclose(self) -> None:
        self.closed += 1


# --- User-Agent ------------------------------------------------------------------------------


async def test_user_agent_names_library_python_and_httpx() -> None:
    transport = Recording()
    async with MySMSClient(USERNAME, PASSWORD, transport=transport) as client:
        await client.balance()
        await client.status("1")
    agents = {request.headers["user-agent"] for request in transport.requests}
    assert agents == {expected_agent("httpx")}


async def test_user_agent_replaces_httpx_default_of_a_callers_client() -> None:
    transport = Recording()
    http_client = httpx.AsyncClient(transport=transport)
    async with http_client, MySMSClient(USERNAME, PASSWORD, http_client=http_client) as client:
        await client.balance()
    assert transport.requests[0].headers["user-agent"] == expected_agent("httpx")


async def test_a_callers_own_user_agent_wins() -> None:
    transport = Recording()
    headers = {"User-Agent": "my-shop/2.0"}
    http_client = httpx.AsyncClient(transport=transport, headers=headers)
    async with http_client, MySMSClient(USERNAME, PASSWORD, http_client=http_client) as client:
        await client.balance()
    assert transport.requests[0].headers["user-agent"] == "my-shop/2.0"


async def test_user_agent_on_aiohttp(served: tuple[FakeGateway, str]) -> None:
    gateway, url = served
    async with gateway.client(base_url=url, http_client=None, backend="aiohttp") as client:
        await client.balance()
    (request,) = gateway.requests
    assert dict((k.lower(), v) for k, v in request.headers)["user-agent"] == expected_agent(
        "aiohttp"
    )


# --- per-call timeout ------------------------------------------------------------------------


@pytest.mark.parametrize("call", ["send", "status", "balance"])
async def test_per_call_timeout_bounds_the_attempt(call: str) -> None:
    transport = Recording(hang=True)
    client = MySMSClient(USERNAME, PASSWORD, transport=transport, timeout=60, max_retries=0)
    async with client:
        with anyio.fail_after(10), pytest.raises(TransportError, match="within the timeout"):
            if call == "send":
                await client.send("79001234567", "hi", timeout=0.05)
            elif call == "status":
                await client.status("1", timeout=dt.timedelta(milliseconds=50))
            else:
                await client.balance(timeout=0.05)
    assert len(transport.requests) == 1


async def test_per_call_timeout_applies_to_that_call_only() -> None:
    transport = Recording()
    async with MySMSClient(USERNAME, PASSWORD, transport=transport, timeout=7) as client:
        await client.balance(timeout=0.5)
        await client.balance()
    first, second = (request.extensions["timeout"] for request in transport.requests)
    assert first == {"connect": 0.25, "read": 0.5, "write": 0.5, "pool": 0.25}
    assert second == {"connect": 3.5, "read": 7.0, "write": 7.0, "pool": 3.5}


@pytest.mark.parametrize("bad", [0, -1, math.nan, math.inf, "5", True, dt.timedelta(0)])
@pytest.mark.parametrize("call", ["send", "status", "balance"])
async def test_bad_per_call_timeout_is_refused_before_io(call: str, bad: Any) -> None:
    transport = Recording()
    async with MySMSClient(USERNAME, PASSWORD, transport=transport) as client:
        with pytest.raises(ValidationError) as caught:
            if call == "send":
                await client.send("79001234567", "hi", timeout=bad)
            elif call == "status":
                await client.status("1", timeout=bad)
            else:
                await client.balance(timeout=bad)
    assert caught.value.field == "timeout"
    assert transport.requests == []


async def test_per_call_timeout_on_aiohttp(served: tuple[FakeGateway, str]) -> None:
    gateway, url = served
    gateway.inject(Latency(1.0), endpoint="credit")
    client = gateway.client(
        base_url=url, http_client=None, backend="aiohttp", timeout=30, max_retries=0
    )
    async with client:
        with anyio.fail_after(10), pytest.raises(TransportError, match="within the timeout"):
            await client.balance(timeout=0.2)
        # The next call has the client's own timeout again.
        assert (await client.balance()).amount > 0


# --- with_options ----------------------------------------------------------------------------


async def test_with_options_shares_the_engine_and_closing_it_closes_nothing() -> None:
    transport = Recording()
    client = MySMSClient(USERNAME, PASSWORD, transport=transport)
    async with client:
        fast = client.with_options(timeout=1.5, max_retries=0)
        assert fast is not client
        assert fast._transport.exchange is client._transport.exchange
        await fast.balance()
        await fast.aclose()
        assert fast.is_closed and not client.is_closed
        assert transport.closed == 0
        assert (await client.balance()).amount > 0  # the shared connections still work
        with pytest.raises(ClientClosedError):
            await fast.balance()
    assert transport.closed == 1
    assert transport.requests[0].extensions["timeout"]["read"] == 1.5


async def test_closing_the_parent_closes_the_derived_client() -> None:
    transport = Recording()
    client = MySMSClient(USERNAME, PASSWORD, transport=transport)
    derived = client.with_options(max_retries=0)
    async with client:
        await derived.balance()
    assert derived.is_closed
    with pytest.raises(ClientClosedError):
        await derived.balance()
    assert transport.closed == 1


async def test_with_options_retries_and_timeout_are_its_own() -> None:
    failing = Recording(code=503)
    client = MySMSClient(USERNAME, PASSWORD, transport=failing, retry_backoff=0, max_retries=2)
    async with client:
        with pytest.raises(mysms_async.ResponseError):
            await client.with_options(max_retries=0).balance()
        assert len(failing.requests) == 1
        with pytest.raises(mysms_async.ResponseError):
            await client.balance()
        assert len(failing.requests) == 4

    hanging = Recording(hang=True)
    client = MySMSClient(USERNAME, PASSWORD, transport=hanging, timeout=60, max_retries=0)
    async with client:
        with anyio.fail_after(10), pytest.raises(TransportError, match="within the timeout"):
            await client.with_options(timeout=0.05).balance()


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": "1"}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
    ],
)
def test_with_options_checks_its_options(options: dict[str, Any], field: str) -> None:
    client = MySMSClient(USERNAME, PASSWORD, transport=Recording())
    with pytest.raises(ValidationError) as caught:
        client.with_options(**options)
    assert caught.value.field == field


def test_with_options_follows_the_parents_event_loop() -> None:
    transport = Recording()
    client = MySMSClient(USERNAME, PASSWORD, transport=transport)
    derived = client.with_options(timeout=2)
    asyncio.run(client.balance())
    with pytest.raises(WrongEventLoopError):
        asyncio.run(derived.balance())
    assert len(transport.requests) == 1


async def test_with_options_shares_an_engine_chosen_later(served: tuple[FakeGateway, str]) -> None:
    gateway, url = served
    client = gateway.client(base_url=url, http_client=None, backend="aiohttp")
    async with client:
        derived = client.with_options(timeout=5)
        await derived.balance()  # the derived client's first request opens the shared engine
        await client.balance()
        assert client._transport.exchange is derived._transport.exchange
        session = client._transport.exchange.session  # type: ignore[union-attr]
        await derived.aclose()
        assert not session.closed
    assert session.closed


class Held(httpx.AsyncBaseTransport):
    """Holds each request until ``release`` is set; ``entered`` says one is on the wire."""

    def __init__(self) -> None:
        self.entered = anyio.Event()
        self.release = anyio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.entered.set()
        await self.release.wait()
        return httpx.Response(200, json=OK_BALANCE)


@pytest.mark.parametrize("how", ["per-call", "with_options"])
async def test_aclose_waits_as_long_as_the_longest_timeout_in_use(
    how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request on the wire with a longer timeout than the client's keeps its real outcome
    when the client is closed meanwhile: aclose() waits up to that timeout, not the client's."""
    waits: list[float] = []
    real_move_on_after = anyio.move_on_after

    def spy(delay: float, *args: Any, **kwargs: Any) -> Any:
        waits.append(delay)
        return real_move_on_after(delay, *args, **kwargs)

    monkeypatch.setattr(anyio, "move_on_after", spy)
    transport = Held()
    client = MySMSClient(USERNAME, PASSWORD, transport=transport, timeout=0.05)
    outcome: list[Any] = []

    async def request() -> None:
        if how == "per-call":
            outcome.append(await client.balance(timeout=5))
        else:
            outcome.append(await client.with_options(timeout=5).balance())

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(request)
        await transport.entered.wait()
        tasks.start_soon(client.aclose)
        await anyio.wait_all_tasks_blocked()
        transport.release.set()
    assert waits == [6.0]
    assert outcome[0].amount > 0
    assert client.is_closed


def test_per_call_timeout_and_with_options_under_trio() -> None:
    async def main() -> tuple[int, int]:
        hanging = Recording(hang=True)
        client = MySMSClient(USERNAME, PASSWORD, transport=hanging, timeout=60, max_retries=0)
        async with client:
            with anyio.fail_after(10):
                with pytest.raises(TransportError, match="within the timeout"):
                    await client.balance(timeout=0.05)
                with pytest.raises(TransportError, match="within the timeout"):
                    await client.with_options(timeout=0.05).status("1")
        return len(hanging.requests), hanging.closed

    assert anyio.run(main, backend="trio") == (2, 1)
