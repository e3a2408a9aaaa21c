"""Durable campaigns: a journal that survives crashes, so no SMS is ever sent twice by accident.

::

    from mysms_async.campaigns import Journal

    with Journal("sqlite:///campaign.db") as journal:        # or postgresql://user@host/db
        campaign = await journal.create("spring", "rows.csv")  # loading it again adds nothing
        await campaign.run(client)                            # resumable; many workers on PG
        await campaign.track(client, until_final=True, timeout=3600)
        print(campaign.report().counts)

The guarantee: a batch is committed as ``sending`` (with the worker's lease) before its request is
written, and each message's outcome after the answer. A message that may have reached the gateway
without an answer ends ``unknown`` and is never resent on its own; only
``campaign.resolve(resend_unknown=True)`` (``mysms campaign resolve NAME --resend-unknown``) sends
it again. See :mod:`._rules` for every move a message can make.
"""

from ._journal import DEFAULT_JOURNAL, ENV_JOURNAL, Campaign, Journal
from ._report import Report
from ._rules import DuplicateKeyError, JournalError, Outcome
from ._run import RunSummary
from ._track import TrackSummary

__all__ = [
    "DEFAULT_JOURNAL",
    "ENV_JOURNAL",
    "Campaign",
    "DuplicateKeyError",
    "Journal",
    "JournalError",
    "Outcome",
    "Report",
    "RunSummary",
    "TrackSummary",
]
