"""Choosing the engine: ``backend="httpx"`` (default), ``"aiohttp"``, ``"auto"``.

aiohttp runs only under asyncio: asked for under trio it is a ``ValidationError`` naming
``backend`` before any byte is sent; ``auto`` quietly takes httpx there, and whenever the caller
handed over an httpx object (``http_client=`` / ``transport=``) or aiohttp is not installed.
"""

from __future__ import annotations

import importlib.util

import anyio
import httpx
import pytest
import sniffio
from fault_cases import DESTINATION, PASSWORD, SENDER, USERNAME, make_client, make_gateway

from mysms_async import MySMSClient, ValidationError
from mysms_async import _exchange as exchange_module
from mysms_async.testing import FakeGateway


def test_aiohttp_under_trio_is_refused_before_any_io(served: tuple[FakeGateway, str]) -> None:
    gateway, base_url = served

    async def main() -> None:
        assert sniffio.current_async_library() == "trio"
        async with MySMSClient(
            USERNAME, PASSWORD, sender=SENDER, base_url=base_url, backend="aiohttp"
        ) as client:
            with pytest.raises(ValidationError) as caught:
                await client.send(DESTINATION, "never sent")
            assert caught.value.field == "backend"
            assert "asyncio" in str(caught.value) and "trio" in str(caught.value)
            with pytest.raises(ValidationError):
                await client.balance()

    anyio.run(main, backend="trio")
    assert gateway.requests == []


def test_auto_is_httpx_under_trio(served: tuple[FakeGateway, str]) -> None:
    gateway, base_url = served

    async def main() -> None:
        client = make_client(gateway, "json", "POST", base_url=base_url, backend="auto")
        async with client:
            assert (await client.send(DESTINATION, "trio auto")).ok
            assert client._transport.engine == "httpx"

    anyio.run(main, backend="trio")


async def test_auto_is_aiohttp_under_asyncio(served: tuple[FakeGateway, str]) -> None:
    gateway, base_url = served
    async with make_client(gateway, "json", "POST", base_url=base_url, backend="auto") as client:
        assert client._transport.engine is None  # chosen in the running loop, at first use
        assert (await client.send(DESTINATION, "asyncio auto")).ok
        assert client._transport.engine == "aiohttp"


async def test_auto_keeps_a_callers_httpx_objects() -> None:
    gateway = make_gateway()
    async with make_client(gateway, "json", "POST", backend="auto") as client:  # transport=
        assert client._transport.engine == "httpx"
        assert (await client.send(DESTINATION, "in process")).ok
    async with httpx.AsyncClient(transport=gateway.transport()) as http:
        client = MySMSClient(
            USERNAME,
            PASSWORD,
            sender=SENDER,
            base_url="http://mysms.test/rest/sms/",
            http_client=http,
            backend="auto",
        )
        async with client:
            assert client._transport.engine == "httpx"
            assert (await client.send(DESTINATION, "caller's client")).ok


def test_aiohttp_with_httpx_objects_is_refused_at_construction() -> None:
    with pytest.raises(ValidationError) as caught:
        MySMSClient(USERNAME, PASSWORD, backend="aiohttp", transport=httpx.MockTransport(print))
    assert caught.value.field == "backend"


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        MySMSClient(USERNAME, PASSWORD, backend="requests")  # type: ignore[arg-type]
    assert caught.value.field == "backend"


def test_aiohttp_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        exchange_module.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "aiohttp" else real(name, *a),
    )
    with pytest.raises(ValidationError, match=r"mysms-async\[aiohttp\]") as caught:
        MySMSClient(USERNAME, PASSWORD, backend="aiohttp")
    assert caught.value.field == "backend"
    client = MySMSClient(USERNAME, PASSWORD, backend="auto")
    assert client._transport.engine == "httpx"  # auto falls back without a word
