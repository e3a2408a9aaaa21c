"""Choosing the engine: ``backend="httpx"`` (default), ``"aiohttp"``, ``"auto"``.

aiohttp runs only under asyncio: asked for under trio it is a ``ValidationError`` naming
``backend`` before any byte is sent; ``auto`` quietly takes httpx there, and whenever the caller
handed over an httpx object (``http_client=`` / ``transport=``) or aiohttp is not installed.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
from collections.abc import Iterator

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


@pytest.fixture
def uncached_check() -> Iterator[None]:
    """The aiohttp check is read once per process: masked here, it is read afresh, and the
    real answer is read again after the test."""
    exchange_module.aiohttp_problem.cache_clear()
    yield
    exchange_module.aiohttp_problem.cache_clear()


@pytest.mark.usefixtures("uncached_check")
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


@pytest.fixture
def old_aiohttp(monkeypatch: pytest.MonkeyPatch, uncached_check: None) -> str:
    """The installed aiohttp, masked as 3.10.11 (the last release whose silent resend of an
    idempotent request cannot be switched off): its distribution metadata answers that version,
    as an older release installed in the environment would. No throwaway venv: the check reads
    the metadata only, before any import of aiohttp."""
    real = importlib.metadata.version
    monkeypatch.setattr(
        exchange_module.importlib.metadata,
        "version",
        lambda name: "3.10.11" if name == "aiohttp" else real(name),
    )
    return "3.10.11"


def test_an_old_aiohttp_is_refused_at_construction(old_aiohttp: str) -> None:
    with pytest.raises(ValidationError) as caught:
        MySMSClient(USERNAME, PASSWORD, backend="aiohttp")
    assert caught.value.field == "backend"
    assert f"aiohttp {old_aiohttp} is installed" in str(caught.value)
    assert ">= 3.11" in str(caught.value)


async def test_auto_takes_httpx_over_an_old_aiohttp_and_says_why(
    old_aiohttp: str, served: tuple[FakeGateway, str], caplog: pytest.LogCaptureFixture
) -> None:
    gateway, base_url = served
    with caplog.at_level(logging.DEBUG, logger="mysms_async"):
        client = make_client(gateway, "json", "POST", base_url=base_url, backend="auto")
    assert client._transport.engine == "httpx"  # chosen at construction, not at first use
    why = [r.getMessage() for r in caplog.records if "backend='auto' takes httpx" in r.getMessage()]
    assert len(why) == 1 and old_aiohttp in why[0] and ">= 3.11" in why[0]
    async with client:
        result = await client.send(DESTINATION, "sent once, on httpx")
    assert result.ok
    assert len(gateway.requests) == 1
