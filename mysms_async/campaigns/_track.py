"""Tracking delivery: poll the state of accepted messages until each is final or time is up.

A round claims accepted messages in batches, stamping each with the time it was checked in the
same statement (with ``SKIP LOCKED`` on PostgreSQL), and asks the gateway about the batch in POST
requests. A message is due only if it was last checked before this round began *and* at least
``interval`` ago, whichever tracker checked it: so several trackers share the work without asking
about one id twice in a round, even when their rounds do not start together.
Only changes are written, each with its time, to the ``events`` table. Everything lives in the
journal, so a tracker can be stopped at any moment and another started later. A message
scheduled for a later date is not final until then: ``until_final`` ends when only those are left.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from .._client import MySMSClient
from .._exceptions import AuthError, MySMSError
from ._report import scheduled
from ._rules import outcome_of_state
from ._run import now_ms
from ._store import Store

T = TypeVar("T")


@dataclass
class TrackSummary:
    """What a tracker did: rounds, ids asked about, changes written, and what is still open."""

    rounds: int = 0
    checked: int = 0
    changes: int = 0
    left: int = 0
    timed_out: bool = False
    scheduled: int = 0
    """Of ``left``, those whose send date is still ahead: ``until_final`` does not wait for them
    (the gateway holds them until their date; a later ``track`` follows them)."""


async def _db(call: Callable[..., T], *args: Any) -> T:
    """A journal call in a worker thread (the event loop never waits for the journal),
    shielded: a tracker stopped mid-write lets the write end (``record_states`` is one
    transaction either way)."""
    with anyio.CancelScope(shield=True):
        result = await anyio.to_thread.run_sync(lambda: call(*args))
    return result


async def track(
    store: Store,
    campaign: int,
    client: MySMSClient,
    *,
    until_final: bool,
    timeout: float | None,  # noqa: ASYNC109 - stops tracking, not a cancel
    interval: float,
    batch_size: int,
) -> TrackSummary:
    summary = TrackSummary()
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        round_start = now_ms()
        while True:
            now = now_ms()
            checked_before = min(round_start - 1, now - int(interval * 1000))
            due = await _db(store.due, campaign, checked_before, batch_size, now)
            if not due:
                break
            try:
                answers = await client.status_many([row.gateway_id for row in due])
            except AuthError:
                raise
            except MySMSError:
                continue  # checked_at was stamped: asked again next round
            summary.checked += len(due)
            changes = []
            for row, answer in zip(due, answers, strict=True):
                if answer.error is not None or answer.state is None:
                    continue
                state = int(answer.state)
                if state != row.state:
                    changes.append((row.id, state, int(outcome_of_state(state))))
            if changes:
                await _db(store.record_states, changes, now_ms())
                summary.changes += len(changes)
            if deadline is not None and time.monotonic() >= deadline:
                break
        summary.rounds += 1
        summary.left = await _db(store.tracking_left, campaign)
        dates = await _db(store.accepted_dates, campaign) if summary.left else []
        summary.scheduled = scheduled(dates, now_ms()) if summary.left else 0
        if not until_final:
            return summary
        pending, sending = await _db(store.remaining, campaign)
        if summary.left == summary.scheduled and pending == 0 and sending == 0:
            return summary
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                summary.timed_out = True
                return summary
            await anyio.sleep(min(interval, remaining))
        else:
            await anyio.sleep(interval)
