"""Fixtures for the fault tests: one emulator served over a real loopback port for the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fault_cases import BACKENDS, make_gateway

from mysms_async.testing import FakeGateway


@pytest.fixture(scope="session")
def _served_session() -> Iterator[tuple[FakeGateway, str]]:
    gateway = make_gateway()
    with gateway.serve() as base_url:
        yield gateway, base_url


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each engine in turn: the loopback tests are where aiohttp and httpx differ."""
    name: str = request.param
    return name


@pytest.fixture
def served(_served_session: tuple[FakeGateway, str]) -> Iterator[tuple[FakeGateway, str]]:
    """The session's served gateway, reset: no requests, messages or faults of earlier tests."""
    gateway, _ = _served_session
    gateway.reset()
    yield _served_session
    gateway.clear_faults()
