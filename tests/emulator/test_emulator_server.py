"""The emulator over a real loopback socket (uvicorn in a thread), and gateway.client()."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from emulator_wire import credit_json, message, send_json

from mysms_async.testing import (
    ConnectRefused,
    DropAfterRead,
    FakeGateway,
    FakeGatewayTransport,
    Latency,
    TruncatedBody,
)

JSON = {"content-type": "application/json; charset=utf-8"}


@pytest.fixture
def live(served: tuple[FakeGateway, str]) -> tuple[FakeGateway, str]:
    """The session's emulator (``served`` in tests/conftest.py), reset."""
    return served


async def test_serves_on_a_real_port(live: tuple[FakeGateway, str]) -> None:
    gateway, base_url = live
    assert base_url.startswith("http://127.0.0.1:")
    assert base_url.endswith("/rest/sms/")
    async with httpx.AsyncClient(base_url=base_url) as http:
        sent = await http.post("send/json", content=send_json(message("over TCP")), headers=JSON)
        balance = await http.post("credit/json", content=credit_json(), headers=JSON)
    assert sent.status_code == 200
    assert sent.json()["data"][0]["state"] == "2"
    assert balance.json() == {"state": "0", "balance": "998,5000"}
    (recorded,) = [m.text for m in gateway.messages.values()]
    assert recorded == "over TCP"
    assert gateway.requests[0].header("host") == base_url.split("/")[2]


async def test_drop_after_read_breaks_the_connection(live: tuple[FakeGateway, str]) -> None:
    gateway, base_url = live
    gateway.inject(DropAfterRead())
    async with httpx.AsyncClient(base_url=base_url) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.post("send/json", content=send_json(message()), headers=JSON)
        # The server lives on: the next request is answered.
        after = await http.post("credit/json", content=credit_json(), headers=JSON)
    assert after.json()["balance"] == "998,5000"  # the dropped send was carried out
    assert len(gateway.messages) == 1
    assert gateway.requests[0].status_code is None


async def test_truncated_body_with_close_over_tcp(live: tuple[FakeGateway, str]) -> None:
    gateway, base_url = live
    gateway.inject(TruncatedBody(close=True))
    async with httpx.AsyncClient(base_url=base_url) as http:
        with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
            await http.post("credit/json", content=credit_json(), headers=JSON)


async def test_connect_refused_over_tcp_drops_before_reading(live: tuple[FakeGateway, str]) -> None:
    gateway, base_url = live
    gateway.inject(ConnectRefused())
    async with httpx.AsyncClient(base_url=base_url) as http:
        # A close with unread request bytes may go out as a reset (ReadError) rather than a clean
        # close (RemoteProtocolError): either way the connection died before any answer.
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            await http.post("send/json", content=send_json(message()), headers=JSON)
    assert gateway.refused == 1
    assert gateway.requests == []
    assert gateway.messages == {}


async def test_latency_over_tcp_times_out(live: tuple[FakeGateway, str]) -> None:
    gateway, base_url = live
    gateway.inject(Latency(0.5))
    async with httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(2, read=0.05)) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.post("send/json", content=send_json(message()), headers=JSON)
    assert len(gateway.messages) == 1


def test_stopping_frees_the_port() -> None:
    gateway = FakeGateway(base_path="/sms/")
    with gateway.serve(port=0) as base_url:
        assert base_url.endswith("/sms/")
        assert httpx.get(f"{base_url}credit/json?u=demo&p=demo-password").status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base_url}credit/json?u=demo&p=demo-password", timeout=1)


def test_client_is_wired_to_the_gateway(monkeypatch: pytest.MonkeyPatch) -> None:
    client_module = pytest.importorskip("mysms_async._client")
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def fake_client(*args: Any, **kwargs: Any) -> str:
        calls.append((args, kwargs))
        return "client"

    monkeypatch.setattr(client_module, "MySMSClient", fake_client)
    gateway = FakeGateway()
    gateway.add_account("bob", "bob-pw", senders=("Bob",))

    made: object = gateway.client(max_retries=0)
    assert made == "client"
    args, kwargs = calls[-1]
    assert args == ("demo", "demo-password")
    assert kwargs["sender"] == "MySMS"
    assert kwargs["base_url"] == "http://mysms.test/rest/sms/"
    assert isinstance(kwargs["transport"], FakeGatewayTransport)
    assert kwargs["max_retries"] == 0

    gateway.client(username="bob", password="bob-pw", sender="Bob", wire_format="xml")
    args, kwargs = calls[-1]
    assert args == ("bob", "bob-pw")
    assert (kwargs["sender"], kwargs["wire_format"]) == ("Bob", "xml")

    own = httpx.AsyncClient()
    gateway.client(http_client=own)
    assert "transport" not in calls[-1][1]

    with pytest.raises(ValueError, match="no account"):
        FakeGateway(accounts=()).client()


async def test_real_client_round_trip() -> None:
    """A light check that the façade and the emulator agree on the wire (needs the client)."""
    pytest.importorskip("mysms_async._client")
    gateway = FakeGateway()
    async with gateway.client(retry_backoff=0) as sms:
        balance = await sms.balance()
    assert str(getattr(balance, "amount", balance)).startswith("1000")
