"""Fixtures for the emulator's tests: a seeded gateway and a plain httpx client into it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from emulator_wire import BASE

from mysms_async.testing import FakeGateway


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway(seed=1234)


@pytest.fixture
async def http(gateway: FakeGateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=gateway.transport(), base_url=BASE) as client:
        yield client
