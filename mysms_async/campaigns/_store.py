"""The one small interface both journal backends implement (the URL that picks one: :mod:`._open`).

Every method is one short transaction, committed before it returns: a claim is durable before
the request that it guards is written. Times are milliseconds since the epoch (an integer is
smaller on disk than a float). Leases and send slots are computed by the backend on one clock:
the PostgreSQL server's (``clock_timestamp()``), so workers on several machines never compare
their own clocks; SQLite's is the one machine's, and a stored time too far ahead is said out
loud and not waited for.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol


class NewRow(NamedTuple):
    """A loaded row, ready to be inserted."""

    key: str
    line: int
    destination: str
    text: str
    sender: str | None
    date: str | None
    ttl: int | None
    parts: int
    outcome: int
    reason: str | None


class Claimed(NamedTuple):
    """A message a worker has claimed: committed as ``sending`` with its lease."""

    id: int
    destination: str
    text: str
    sender: str | None
    date: str | None
    ttl: int | None
    key: str


class Settled(NamedTuple):
    """The outcome of one claimed message, to be committed after the answer."""

    id: int
    outcome: int
    gateway_id: str | None
    state: int | None
    reason: str | None


class Restored(NamedTuple):
    """An outcome a worker held but could not commit, read back from its fallback file."""

    key: str
    outcome: int
    gateway_id: str | None
    state: int | None
    reason: str | None
    run: str


class Tracked(NamedTuple):
    id: int
    gateway_id: str
    state: int | None


class ExportRow(NamedTuple):
    key: str
    line: int
    destination: str
    outcome: int
    gateway_id: str | None
    state: int | None
    parts: int
    reason: str | None
    sent_at: int | None
    changed_at: int | None
    gateway_ids: str | None
    """The ids other than ``gateway_id`` (space-separated): a message sent more than once."""


@dataclass(frozen=True)
class Selection:
    """Which messages an operator's ``resolve`` names; every given field must match.

    ``run``: the worker run (or worker label) that had them in flight; ``since``/``until``:
    milliseconds, on when they last changed; ``keys``: their keys. Only ``keys`` reaches a
    ``skipped`` message (an explicit name reverses an explicit decision).
    """

    run: str | None = None
    since: int | None = None
    until: int | None = None
    keys: tuple[str, ...] | None = None


@dataclass(frozen=True)
class CampaignRow:
    id: int
    name: str
    created_at: int
    rate_limit: float | None


class Store(Protocol):
    """A journal backend: SQL only; the rules live in :mod:`._rules`."""

    kind: str

    def close(self) -> None: ...
    def transient(self, error: BaseException) -> bool:
        """A fault of the journal that may pass (a lost connection, a held lock): retry."""
        ...

    def reconnect(self) -> None:
        """Make the next call work again after a transient fault, if it can."""
        ...

    # campaigns
    def create_campaign(self, name: str, now: int) -> CampaignRow: ...
    def campaign(self, name: str) -> CampaignRow | None: ...
    def campaigns(self) -> list[CampaignRow]: ...
    def has_messages(self, campaign: int) -> bool:
        """Whether the campaign has a message a finished load made (a load in progress or one
        that died has made none yet)."""
        ...

    def drop_if_empty(self, campaign: int) -> None:
        """Remove the campaign if it holds no message at all (a first load that failed)."""
        ...

    def set_rate_limit(self, campaign: int, rate: float | None) -> None: ...

    # loading: one transaction per load
    def begin_load(self, campaign: int) -> int: ...
    def insert_rows(self, campaign: int, rows: Sequence[NewRow]) -> int: ...
    def existing(self, campaign: int, keys: Sequence[str]) -> dict[str, tuple[object, ...]]: ...
    def end_load(self, *, commit: bool) -> None: ...

    # running
    def lock_worker(self, campaign: int, worker: str) -> None: ...
    def unlock_worker(self, campaign: int) -> None: ...
    def next_slot(
        self, campaign: int, margin: float, extra: float = 0.0
    ) -> tuple[float, float] | None:
        """Take the campaign's next send slot, read from its rate *now*: (seconds to wait, the
        interval between slots); ``None`` when the campaign has no rate limit. Slots are spaced
        ``(1 + margin) / rate_limit`` apart, and ``extra`` seconds more after this one."""
        ...

    # leases are durations in seconds: the backend adds them to its own clock (the server's)
    def claim(self, campaign: int, worker: str, limit: int, lease: float) -> list[Claimed]: ...
    def settle_and_claim(
        self,
        worker: str,
        settled: Sequence[Settled],
        now: int,
        campaign: int,
        limit: int,
        lease: float,
        claims: int = 1,
    ) -> list[list[Claimed]]:
        """:meth:`settle`, then ``claims`` times :meth:`claim` (0: none), in one transaction: a
        batch's answers and the next claim cost one commit. The settling is one statement for
        all; each claim is its own batch (one request)."""
        ...

    def renew(self, campaign: int, worker: str, lease: float) -> None: ...
    def settle(self, worker: str, settled: Sequence[Settled], now: int) -> None: ...
    def release(self, worker: str, ids: Sequence[int]) -> None: ...
    def release_stray(self, campaign: int, worker: str, keep: Sequence[int]) -> int:
        """Back to ``pending``: this worker's ``sending`` rows other than ``keep`` (claims whose
        commit went through while the worker heard an error: it never sent them)."""
        ...

    def expire(self, campaign: int, reason: str) -> int: ...
    def abandon(
        self, campaign: int, reason: str, *, label: str | None = None, keep: str | None = None
    ) -> int:
        """Every ``sending`` row becomes ``unknown``; with ``label``, only the rows of that
        worker label's runs other than ``keep`` (the dead runs of a label now running again)."""
        ...

    def remaining(self, campaign: int) -> tuple[int, int]: ...

    # tracking
    def due(self, campaign: int, checked_before: int, limit: int, now: int) -> list[Tracked]: ...
    def record_states(self, changes: Sequence[tuple[int, int, int]], now: int) -> None: ...
    def tracking_left(self, campaign: int) -> int: ...

    # reporting and resolving
    def counts(self, campaign: int) -> list[tuple[int, int | None, int, int]]: ...
    def sent_since(self, campaign: int, since: int) -> int: ...
    def accepted_dates(self, campaign: int) -> list[str]:
        """The ``date`` of each accepted message that has one (scheduled sends, see
        :func:`._report.scheduled`)."""
        ...

    def export(self, campaign: int) -> Iterator[ExportRow]: ...
    def events(self, campaign: int) -> Iterator[tuple[str, int, int]]: ...
    def resolve(
        self, campaign: int, *, resend: bool, now: int, reason: str, selection: Selection
    ) -> int: ...
    def restore(self, campaign: int, records: Sequence[Restored], now: int) -> int: ...
