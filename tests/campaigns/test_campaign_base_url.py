"""A campaign run against a wrong base URL (HTTP 404 / 405: no send endpoint there).

The request reached no gateway endpoint, so nothing was sent: the claimed rows go back to
``pending`` (never ``unknown``), and the run stops at the first one with ``BaseURLError``
instead of claiming the whole campaign batch after batch.
"""

from __future__ import annotations

import pytest

from mysms_async import BaseURLError
from mysms_async.campaigns import Journal
from mysms_async.testing import FakeGateway, HTTPErrorStatus


@pytest.mark.parametrize("code", [404, 405])
async def test_a_wrong_base_url_stops_the_run_with_every_row_pending(
    journal_url: str, code: int
) -> None:
    gateway = FakeGateway()
    gateway.set_balance("demo", 10**6)
    gateway.inject(HTTPErrorStatus(code), endpoint="send", times=None)
    rows = [{"destination": f"7911000{i:04d}", "text": f"hello {i}"} for i in range(12)]
    with Journal(journal_url) as journal:
        campaign = await journal.create("c", rows)
        async with gateway.client(batch_size=2, max_concurrency=1) as client:
            with pytest.raises(BaseURLError):
                await campaign.run(client, batch_size=2, lanes=1)
        counts = campaign.report().counts
    assert counts["pending"] == 12
    assert counts["unknown"] == 0 and counts["sending"] == 0
    assert len(gateway.requests) == 1  # stopped at the first answer, not batch after batch
    assert not gateway.messages
