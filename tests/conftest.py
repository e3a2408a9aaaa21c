"""Shared fixtures: a password that tests can search for, clients on a respx-mocked gateway, and
the one emulator served over a real loopback port.

Plain helper functions live in ``tests/shared_helpers.py`` (never ``from conftest import``: every
folder has a conftest, and the first one imported wins).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from mysms_async import MySMSClient
from mysms_async.testing import DEMO_PASSWORD, DEMO_USERNAME, FakeGateway

BASE_URL = "https://my-sms.ru/rest/sms/"
USERNAME = "alice"
PASSWORD = "S3cr3t-p@ss word&more"

Served = tuple[FakeGateway, str]


@pytest.fixture
async def client() -> AsyncIterator[MySMSClient]:
    async with MySMSClient(USERNAME, PASSWORD, sender="MySMS", retry_backoff=0) as c:
        yield c


@pytest.fixture(scope="session")
def served_session() -> Iterator[Served]:
    """One emulator (the demo accounts) on a loopback port: uvicorn starts once per session.

    Tests never use it directly: ``served`` hands it over reset. A folder that needs an account
    of its own adds it once, in a session fixture of its conftest (see ``tests/faults``).
    """
    gateway = FakeGateway()
    with gateway.serve() as base_url:
        yield gateway, base_url


@pytest.fixture
def served(served_session: Served) -> Iterator[Served]:
    """The session's served emulator, as fresh as a new one: no requests, messages or faults of
    earlier tests, and every account at its starting balance (``FakeGateway.reset``)."""
    gateway, _ = served_session
    gateway.reset()
    yield served_session
    gateway.clear_faults()


@pytest.fixture
def served_demo(served: Served, monkeypatch: pytest.MonkeyPatch) -> Served:
    """``served``, with the demo account's credentials and sender in the ``MYSMS_*`` variables
    (what the ``mysms`` command and ``MySMSClient.from_env`` read)."""
    monkeypatch.setenv("MYSMS_USERNAME", DEMO_USERNAME)
    monkeypatch.setenv("MYSMS_PASSWORD", DEMO_PASSWORD)
    monkeypatch.setenv("MYSMS_SENDER", "MySMS")
    return served
