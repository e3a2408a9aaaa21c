"""What a campaign looks like now: counts by outcome and state, parts and cost, pace; the export.

The ``counts`` keys are pinned for scripts: every message is in exactly one of them and they sum
to ``total``. The export streams one row per message in load order, never the whole journal.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any, Final

from .._codes import STATE_MEANINGS, state_words
from ._rules import MAYBE_SENT, OUTCOME_NAMES, Outcome
from ._run import now_ms
from ._store import ExportRow, Store

RATE_WINDOW_MS: Final = 60_000
"""The pace is measured over the last minute of settled messages."""
EXPORT_COLUMNS: Final = (
    "key",
    "line",
    "destination",
    "outcome",
    "id",
    "state",
    "parts",
    "reason",
    "sent_at",
    "changed_at",
    "ids",
)


@dataclass
class Report:
    """A campaign's standing. ``cost`` is ``parts_sent`` times the price, when one is known."""

    name: str
    total: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOME_NAMES, 0))
    refused_by_state: dict[int, int] = field(default_factory=dict)
    undelivered_by_state: dict[int, int] = field(default_factory=dict)
    failed_by_state: dict[int, int] = field(default_factory=dict)
    parts: int = 0
    parts_sent: int = 0
    cost: Decimal | None = None
    rate: float = 0.0
    seconds_left: float | None = None
    scheduled: int = 0
    """Accepted messages whose send date is still ahead: the gateway holds them until then, so
    they are not final yet and nobody need wait for them."""

    @property
    def done(self) -> bool:
        """Whether no message is left to send: none ``pending``, none ``sending``."""
        return self.counts["pending"] == 0 and self.counts["sending"] == 0

    @property
    def all_accepted(self) -> bool:
        """Whether every message was accepted by the gateway (``accepted`` or ``delivered``)."""
        ok = self.counts["accepted"] + self.counts["delivered"]
        return ok == self.total

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready values: what ``mysms campaign status --json`` prints."""
        return {
            "name": self.name,
            "total": self.total,
            "counts": dict(self.counts),
            "refused_by_state": {str(k): v for k, v in sorted(self.refused_by_state.items())},
            "undelivered_by_state": {
                str(k): v for k, v in sorted(self.undelivered_by_state.items())
            },
            "failed_by_state": {str(k): v for k, v in sorted(self.failed_by_state.items())},
            "parts": self.parts,
            "parts_sent": self.parts_sent,
            "cost": None if self.cost is None else str(self.cost),
            "rate": round(self.rate, 3),
            "seconds_left": None if self.seconds_left is None else round(self.seconds_left, 1),
            "scheduled": self.scheduled,
            "states": {
                str(k): STATE_MEANINGS.get(k)
                for k in sorted(
                    {*self.refused_by_state, *self.undelivered_by_state, *self.failed_by_state}
                )
            },
        }


_SENT: Final = frozenset({Outcome.ACCEPTED, Outcome.DELIVERED, Outcome.UNDELIVERED})


def build_report(
    store: Store, campaign: int, name: str, price_per_part: Decimal | None = None
) -> Report:
    report = Report(name)
    for outcome_code, state, count, parts in store.counts(campaign):
        outcome = Outcome(outcome_code)
        report.total += count
        report.counts[outcome.label] += count
        report.parts += parts
        if outcome in _SENT or outcome in MAYBE_SENT:
            report.parts_sent += parts
        if outcome is Outcome.REFUSED and state is not None:
            report.refused_by_state[state] = report.refused_by_state.get(state, 0) + count
        if outcome is Outcome.FAILED and state is not None:
            report.failed_by_state[state] = report.failed_by_state.get(state, 0) + count
        if outcome is Outcome.UNDELIVERED and state is not None:
            report.undelivered_by_state[state] = report.undelivered_by_state.get(state, 0) + count
    if price_per_part is not None:
        report.cost = price_per_part * report.parts_sent
    now = now_ms()
    if report.counts["accepted"]:
        report.scheduled = scheduled(store.accepted_dates(campaign), now)
    recent = store.sent_since(campaign, now - RATE_WINDOW_MS)
    report.rate = recent / (RATE_WINDOW_MS / 1000)
    left = report.counts["pending"] + report.counts["sending"]
    if left == 0:
        report.seconds_left = 0.0
    elif report.rate > 0:
        report.seconds_left = left / report.rate
    return report


_MOSCOW: Final = dt.timezone(dt.timedelta(hours=3))
"""A send date without an offset is Moscow time, as the gateway reads it."""


def scheduled(dates: Iterable[str], now: int) -> int:
    """How many of ``dates`` (ISO 8601, as journaled) are later than ``now`` (ms)."""
    count = 0
    for text in dates:
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=_MOSCOW)
        if when.timestamp() * 1000 > now:
            count += 1
    return count


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).isoformat(timespec="milliseconds")


def _record(row: ExportRow) -> dict[str, Any]:
    outcome = Outcome(row.outcome)
    reason = row.reason
    if reason is None and row.state is not None and row.state < 0:
        reason = state_words(row.state)  # "-11: invalid or unregistered sender name"
    return {
        "key": row.key,
        "line": row.line,
        "destination": row.destination,
        "outcome": outcome.label,
        "id": row.gateway_id,
        "state": row.state,
        "parts": row.parts,
        "reason": reason,
        # only for a message that was sent (or may have been): not refused, failed or invalid
        "sent_at": _iso(row.sent_at) if outcome in _SENT or outcome in MAYBE_SENT else None,
        "changed_at": _iso(row.changed_at),
        "ids": " ".join(i for i in (row.gateway_id, row.gateway_ids) if i) or None,
    }


def export_rows(store: Store, campaign: int) -> Iterator[dict[str, Any]]:
    for row in store.export(campaign):
        yield _record(row)


def write_export(store: Store, campaign: int, stream: IO[str], fmt: str) -> int:
    """Write every message to ``stream`` as CSV (with a header) or JSON Lines; return the count."""
    written = 0
    if fmt == "jsonl":
        for record in export_rows(store, campaign):
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
            written += 1
        return written
    writer = csv.DictWriter(stream, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in export_rows(store, campaign):
        writer.writerow({k: "" if v is None else v for k, v in record.items()})
        written += 1
    return written
