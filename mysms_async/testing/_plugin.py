"""pytest plugin (entry point ``pytest11``): a fake gateway and a client wired to it.

Testing an app that sends SMS then takes three lines::

    async def test_signup_sends_a_code(mysms_client, mysms_gateway):
        await signup(phone="79112223333", sms=mysms_client)
        (sent,) = mysms_gateway.messages.values()
        assert sent.destination == "79112223333"

Everything is imported lazily, so installing mysms-async costs a test session that does not use
these fixtures nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .._client import MySMSClient
    from ._gateway import FakeGateway


@pytest.fixture
def mysms_gateway() -> FakeGateway:
    """A fresh in-process gateway with the demo account; inspect ``.messages``, ``.requests``."""
    from ._gateway import FakeGateway

    return FakeGateway()


@pytest.fixture
async def mysms_client(mysms_gateway: FakeGateway) -> AsyncIterator[MySMSClient]:
    """A ``MySMSClient`` talking to ``mysms_gateway`` through no socket; closed after the test."""
    async with mysms_gateway.client(retry_backoff=0) as client:
        yield client
