"""Fixtures for the fault tests: one emulator served over a real loopback port for the session."""

from __future__ import annotations

import pytest
from fault_cases import BACKENDS, add_fault_account

from mysms_async.testing import FakeGateway


@pytest.fixture(scope="session")
def _fault_account(served_session: tuple[FakeGateway, str]) -> None:
    """The fault tests' account, added once to the session's emulator (tests/conftest.py)."""
    add_fault_account(served_session[0])


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each engine in turn: the loopback tests are where aiohttp and httpx differ."""
    name: str = request.param
    return name


@pytest.fixture
def served(served: tuple[FakeGateway, str], _fault_account: None) -> tuple[FakeGateway, str]:
    """The session's served gateway (tests/conftest.py), reset, with the fault tests' account."""
    return served
