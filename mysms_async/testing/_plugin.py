"""pytest plugin (entry point ``pytest11``): a fake gateway and a client wired to it.

Testing an app that sends SMS then takes a few lines::

    @pytest.mark.anyio
    async def test_signup_sends_a_code(mysms_client, mysms_gateway):
        await signup(phone="79112223333", sms=mysms_client)
        (sent,) = mysms_gateway.messages.values()
        assert sent.destination == "79112223333"

Both fixtures are plain (sync) fixtures, on purpose. An ``async def`` fixture needs a plugin that
claims it, and which one does depends on the user's project: pytest-asyncio's default strict mode
claims only fixtures declared with ``pytest_asyncio.fixture``, anyio's plugin only those of tests
marked ``anyio``, and pytest itself refuses the rest. A client needs no event loop until its first
request (it is used unopened, and the in-process transport holds no socket), so a sync fixture
hands it over and the test's own runner, whichever it is (asyncio or trio), drives it. Nothing
needs closing afterwards: a client the test entered with ``async with`` closes itself, and one
it did not enter holds nothing to release.

Everything is imported lazily, so installing mysms-async costs a test session that does not use
these fixtures nothing.
"""

from __future__ import annotations

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
def mysms_client(mysms_gateway: FakeGateway) -> MySMSClient:
    """A ``MySMSClient`` talking to ``mysms_gateway`` through no socket, ready to use unopened
    from a test run by pytest-asyncio (strict or auto mode) or by anyio (asyncio or trio)."""
    return mysms_gateway.client(retry_backoff=0)
