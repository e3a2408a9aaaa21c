"""The journal: one class holding its logic (:class:`Store`) over a thin connector per backend.

:class:`Store` holds every query and the shape of every transaction (claim, settle,
settle-and-claim, release, resolve, restore), the selection filter and the exports, once. A backend
(:mod:`._sqlite`, :mod:`._postgres`; the URL that picks one: :mod:`._open`) is a :class:`Connector`:
it connects and reconnects, says which errors are transient and translates the fatal ones, holds the
locks, bulk-inserts a load, and supplies the few SQL pieces that differ between dialects (a set of
ids, a batch of rows, the clock, ``SKIP LOCKED``, what a load in progress hides). Procrastinate's
``JobManager`` over its connectors has the same shape; a new backend is one new file.

The SQL here is written with psycopg's named placeholders (``%(name)s``, ``%%`` for ``%``); the
SQLite connector rewrites them into its own. Every method is one short transaction, committed before
it returns: a claim is durable before the request that it guards is written. Times are milliseconds
since the epoch (an integer is smaller on disk than a float). Leases and send slots are computed by
the backend on one clock: the PostgreSQL server's (``clock_timestamp()``), so workers on several
machines never compare their own clocks; SQLite's is the one machine's, and a stored time too far
ahead is said out loud and not waited for.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Final, NamedTuple, NoReturn, Protocol, TypeVar

from ._rules import SCHEMA_VERSION, JournalError, Outcome


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


def schema(*, serial: str, big: str, real: str, small: str, key: str = "TEXT") -> str:
    """The journal's tables at schema version 1 (the migrations bring them up to
    :data:`._rules.SCHEMA_VERSION`) in a dialect's types: ``serial``, an id column made by
    the database; ``big``, a 64-bit integer; ``real``, a float; ``small``, an outcome;
    ``key``, the message key's type, compared byte by byte. Each backend adds its ``events``
    table and its own indexes."""
    return f"""
CREATE TABLE mysms_schema (version INTEGER NOT NULL, applied_at {big} NOT NULL);
CREATE TABLE campaigns (
    id {serial},
    name TEXT NOT NULL UNIQUE,
    created_at {big} NOT NULL,
    rate_limit {real},
    next_slot {real} NOT NULL DEFAULT 0
);
CREATE TABLE messages (
    id {serial},
    campaign {big} NOT NULL,
    key {key} NOT NULL,
    line INTEGER NOT NULL,
    destination TEXT NOT NULL,
    text TEXT NOT NULL,
    sender TEXT,
    date TEXT,
    ttl INTEGER,
    parts INTEGER NOT NULL,
    outcome {small} NOT NULL,
    gateway_id TEXT,
    state INTEGER,
    reason TEXT,
    worker TEXT,
    lease_until {big},
    sent_at {big},
    changed_at {big},
    checked_at {big}
);
CREATE UNIQUE INDEX messages_key ON messages (campaign, key);
CREATE INDEX messages_pending ON messages (campaign, id) WHERE outcome = {Outcome.PENDING};
CREATE INDEX messages_sending ON messages (campaign, worker) WHERE outcome = {Outcome.SENDING};
CREATE INDEX messages_tracked ON messages (campaign, checked_at)
    WHERE outcome = {Outcome.ACCEPTED};
CREATE INDEX messages_unknown ON messages (campaign) WHERE outcome = {Outcome.UNKNOWN};
"""


def migrate(
    run: Callable[[str], Any],
    tables: set[str],
    schema: str,
    migrations: Mapping[int, str],
    *,
    now: str,
    where: str,
) -> None:
    """Create the schema in a database that has none, or bring an older one up to
    :data:`._rules.SCHEMA_VERSION`, inside the caller's transaction (and under its lock).

    ``run`` runs one statement without parameters; ``tables``, the tables there are; ``now``,
    SQL for the time in milliseconds; ``where``, the database in an operator's words.
    """
    if "mysms_schema" not in tables:
        if "messages" in tables or "campaigns" in tables:
            raise JournalError(
                f"{where} has tables but no mysms_schema table: it is not a mysms campaign journal"
            )
        script(run, schema)
        run(f"INSERT INTO mysms_schema VALUES (1, {now})")
    version = int(run("SELECT max(version) FROM mysms_schema").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise JournalError(
            f"the journal in {where} has schema version {version}, newer than this library's"
            f" {SCHEMA_VERSION}: upgrade mysms-async to open it"
        )
    while version < SCHEMA_VERSION:
        script(run, migrations[version])
        version += 1
        run(f"INSERT INTO mysms_schema VALUES ({version}, {now})")


def script(run: Callable[[str], Any], sql: str) -> None:
    """Statement by statement, in the open transaction (SQLite's ``executescript`` would
    commit it)."""
    for statement in sql.split(";"):
        if statement.strip():
            run(statement)


class Cursor(Protocol):
    """What a connector's ``execute`` returns (a DB-API cursor)."""

    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Connector(Protocol):
    """A backend: only what truly differs between journal databases."""

    kind: str
    now: str
    """SQL for the journal's clock in milliseconds: a parameter ``clock`` (:meth:`now_ms`) or the
    server's own clock."""
    skip_locked: str
    """Appended to a ``SELECT`` that picks rows to take: other workers' locked rows are passed."""
    event_order: str
    """The column of ``events`` that orders them as written."""

    def now_ms(self) -> int:
        """The value of the ``clock`` parameter (unused where :attr:`now` is the server's)."""
        ...

    def visible(self, id: str = "id") -> str:
        """SQL true for a message (``id`` its id column) that no load in progress is hiding; it
        reads the parameter ``campaign``."""
        ...

    def in_set(self, column: str, name: str) -> str:
        """SQL true where ``column`` is in the set of values passed as parameter ``name``."""
        ...

    def set_param(self, values: Sequence[Any]) -> Any:
        """A set of values, as :meth:`in_set` wants its parameter."""
        ...

    def batch(
        self, alias: str, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]
    ) -> tuple[str, dict[str, Any]]:
        """``rows`` as a ``FROM`` item named ``alias`` with ``columns`` (name, PostgreSQL
        type), and the parameters that carry them."""
        ...

    def execute(self, sql: str, params: Mapping[str, Any]) -> Cursor: ...
    def stream(self, sql: str, params: Mapping[str, Any]) -> Iterator[Any]:
        """The rows of a long query, without holding them all in memory."""
        ...

    def transaction(self) -> AbstractContextManager[None]: ...
    def relaxed(self) -> AbstractContextManager[None]:
        """Writes whose loss in a power cut is safe need not wait for the disk."""
        ...

    def close(self) -> None: ...
    def transient(self, error: BaseException) -> bool: ...
    def reconnect(self) -> None: ...
    def fatal(self, error: BaseException) -> JournalError | None:
        """``error`` in words for an operator when no retry can mend it, else ``None``."""
        ...

    def begin_load(self, campaign: int) -> int: ...
    def insert_rows(self, campaign: int, rows: Sequence[NewRow]) -> int: ...
    def end_load(self, *, commit: bool) -> None: ...
    def lock_worker(self, campaign: int, worker: str) -> None: ...
    def unlock_worker(self, campaign: int) -> None: ...
    def next_slot(
        self, campaign: int, margin: float, extra: float = 0.0
    ) -> tuple[float, float] | None: ...


_MINE: Final = f"({Outcome.SENDING}, {Outcome.UNKNOWN}, {Outcome.SKIPPED})"
"""Outcomes a worker's answer may still be written over, while the row names that worker."""
_APPEND_ID: Final = (
    "CASE WHEN m.gateway_ids IS NULL THEN s.gateway_id"
    " WHEN ' ' || m.gateway_ids || ' ' LIKE '%% ' || s.gateway_id || ' %%'"
    " THEN m.gateway_ids ELSE m.gateway_ids || ' ' || s.gateway_id END"
)
"""``gateway_ids`` with ``s.gateway_id`` added unless it is there already."""
_ANOTHER_ID: Final = (
    "s.gateway_id IS NOT NULL AND (m.gateway_id IS NULL OR s.gateway_id <> m.gateway_id)"
)
"""An id that is not the row's first (``gateway_id``): ``gateway_ids`` keeps the others only.
Run after the outcome's update, which makes a first id the row's ``gateway_id``."""
_RESTORABLE: Final = (
    f"(m.worker = s.run AND m.outcome IN ({Outcome.SENDING}, {Outcome.UNKNOWN}))"
    f" OR (s.outcome NOT IN ({Outcome.PENDING}, {Outcome.UNKNOWN})"
    f" AND m.outcome IN ({Outcome.PENDING}, {Outcome.UNKNOWN}, {Outcome.SKIPPED}))"
)
"""A held outcome goes back over its own run's row still in flight or unknown; one that says
what happened (not ``pending``, not ``unknown``) also over a row resolved meanwhile."""
_SETTLED: Final = (
    ("id", "bigint"),
    ("outcome", "smallint"),
    ("gateway_id", "text"),
    ("state", "int"),
    ("reason", "text"),
)
_RESTORED: Final = (
    ("key", "text"),
    ("outcome", "smallint"),
    ("gateway_id", "text"),
    ("state", "int"),
    ("reason", "text"),
    ("run", "text"),
)
_CHANGES: Final = (("id", "bigint"), ("state", "int"), ("outcome", "smallint"))
_CAMPAIGN: Final = "SELECT id, name, created_at, rate_limit FROM campaigns"
_EXPORTED: Final = (
    "SELECT key, line, destination, outcome, gateway_id, state, parts, reason, sent_at,"
    " coalesce(changed_at, sent_at), gateway_ids FROM messages"
)


class Store:
    """A journal: its logic, over one backend's :class:`Connector`. The rules (what the codes
    mean, which failure leads where) live in :mod:`._rules`.

    Every public method but :meth:`transient` raises a fatal database error as the
    connector's :class:`JournalError` (:meth:`Connector.fatal`).
    """

    kind: str
    """The backend: ``"sqlite"`` or ``"postgresql"``."""

    def __init__(self, connector: Connector) -> None:
        self._c = connector
        self.kind = connector.kind

    def __repr__(self) -> str:
        return f"Store(kind={self.kind!r})"

    def close(self) -> None:
        self._c.close()

    def transient(self, error: BaseException) -> bool:
        """A fault of the journal that may pass (a lost connection, a held lock): retry."""
        return self._c.transient(error)

    def reconnect(self) -> None:
        """Make the next call work again after a transient fault, if it can."""
        self._c.reconnect()

    def _x(self, sql: str, **params: Any) -> Cursor:
        return self._c.execute(sql, params)

    # campaigns ---------------------------------------------------------------------------------

    def create_campaign(self, name: str, now: int) -> CampaignRow:
        self._x(
            "INSERT INTO campaigns (name, created_at) VALUES (%(name)s, %(now)s)"
            " ON CONFLICT DO NOTHING",
            name=name,
            now=now,
        )
        found = self.campaign(name)
        assert found is not None
        return found

    def campaign(self, name: str) -> CampaignRow | None:
        row = self._x(f"{_CAMPAIGN} WHERE name = %(name)s", name=name).fetchone()
        return None if row is None else CampaignRow(*row)

    def campaigns(self) -> list[CampaignRow]:
        return [CampaignRow(*row) for row in self._x(f"{_CAMPAIGN} ORDER BY id")]

    def has_messages(self, campaign: int) -> bool:
        """Whether the campaign has a message a finished load made (a load in progress or one
        that died has made none yet)."""
        found = self._x(
            f"SELECT 1 FROM messages WHERE campaign = %(campaign)s AND {self._c.visible()} LIMIT 1",
            campaign=campaign,
        ).fetchone()
        return found is not None

    def drop_if_empty(self, campaign: int) -> None:
        """Remove the campaign if it holds no message at all (a first load that failed)."""
        self._x(
            "DELETE FROM campaigns WHERE id = %(campaign)s"
            " AND NOT EXISTS (SELECT 1 FROM messages WHERE campaign = %(campaign)s)",
            campaign=campaign,
        )

    def set_rate_limit(self, campaign: int, rate: float | None) -> None:
        self._x(
            "UPDATE campaigns SET rate_limit = %(rate)s WHERE id = %(campaign)s",
            rate=rate,
            campaign=campaign,
        )

    # loading: one load at a time per campaign, its rows published at its end ------------------

    def begin_load(self, campaign: int) -> int:
        """Start a load; the largest message id before it (the load's rows are above)."""
        return self._c.begin_load(campaign)

    def insert_rows(self, campaign: int, rows: Sequence[NewRow]) -> int:
        """Insert what is new; the count inserted (fewer than ``rows``: some keys were taken)."""
        return self._c.insert_rows(campaign, rows)

    def existing(self, campaign: int, keys: Sequence[str]) -> dict[str, tuple[object, ...]]:
        rows = self._x(
            "SELECT key, id, line, destination, text, sender, date, ttl FROM messages"
            f" WHERE campaign = %(campaign)s AND {self._c.in_set('key', 'keys')}",
            campaign=campaign,
            keys=self._c.set_param(keys),
        )
        return {row[0]: tuple(row[1:]) for row in rows}

    def end_load(self, *, commit: bool) -> None:
        self._c.end_load(commit=commit)

    # running -----------------------------------------------------------------------------------

    def lock_worker(self, campaign: int, worker: str) -> None:
        self._c.lock_worker(campaign, worker)

    def unlock_worker(self, campaign: int) -> None:
        self._c.unlock_worker(campaign)

    def next_slot(
        self, campaign: int, margin: float, extra: float = 0.0
    ) -> tuple[float, float] | None:
        """Take the campaign's next send slot, read from its rate *now*: (seconds to wait, the
        interval between slots); ``None`` when the campaign has no rate limit. Slots are spaced
        ``(1 + margin) / rate_limit`` apart, and ``extra`` seconds more after this one."""
        return self._c.next_slot(campaign, margin, extra)

    # leases are durations in seconds: added to the journal's clock (the server's)
    def claim(self, campaign: int, worker: str, limit: int, lease: float) -> list[Claimed]:
        """One statement: committed (synced) before it returns."""
        return self._claim(campaign, worker, limit, lease)

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
        batch's answers and the next claim cost one commit (synced, for the claim's sake). The
        settling is one statement for all; each claim is its own batch (one request, whatever
        other workers' claims take meanwhile)."""
        with self._c.transaction():
            if settled:
                self._settle(worker, settled, now)
            return [self._claim(campaign, worker, limit, lease) for _ in range(claims)]

    def _claim(self, campaign: int, worker: str, limit: int, lease: float) -> list[Claimed]:
        rows = self._x(
            "WITH picked (pick) AS (SELECT id FROM messages"
            f"  WHERE campaign = %(campaign)s AND outcome = {Outcome.PENDING}"
            f"  AND {self._c.visible()} ORDER BY id LIMIT %(limit)s{self._c.skip_locked})"
            f" UPDATE messages AS m SET outcome = {Outcome.SENDING}, worker = %(worker)s,"
            f" lease_until = {self._c.now} + %(lease)s FROM picked WHERE m.id = picked.pick"
            " RETURNING id, destination, text, sender, date, ttl, key",
            campaign=campaign,
            limit=limit,
            worker=worker,
            lease=int(lease * 1000),
            clock=self._c.now_ms(),
        ).fetchall()
        rows.sort()
        return [Claimed(*row) for row in rows]

    def renew(self, campaign: int, worker: str, lease: float) -> None:
        self._x(
            f"UPDATE messages SET lease_until = {self._c.now} + %(lease)s"
            f" WHERE campaign = %(campaign)s AND outcome = {Outcome.SENDING}"
            " AND worker = %(worker)s",
            lease=int(lease * 1000),
            campaign=campaign,
            worker=worker,
            clock=self._c.now_ms(),
        )

    def settle(self, worker: str, settled: Sequence[Settled], now: int) -> None:
        """One transaction for the whole batch, not waiting for the disk (see
        :meth:`Connector.relaxed`: outcomes lost in a power cut leave rows ``sending``, which
        the next worker records as ``unknown``, never resent)."""
        with self._c.relaxed(), self._c.transaction():
            self._settle(worker, settled, now)

    def _settle(self, worker: str, settled: Sequence[Settled], now: int) -> None:
        """One ``UPDATE ... FROM`` the batch (and one for extra ids)."""
        rows, batch = self._c.batch("s", _SETTLED, settled)
        self._x(
            "UPDATE messages AS m SET outcome = s.outcome,"
            " gateway_id = coalesce(m.gateway_id, s.gateway_id),"
            " state = s.state, reason = s.reason, lease_until = NULL, worker = NULL,"
            f" sent_at = %(now)s FROM {rows}"
            f" WHERE m.id = s.id AND m.worker = %(worker)s AND m.outcome IN {_MINE}",
            now=now,
            worker=worker,
            **batch,
        )
        # Every id the gateway gave is kept, even on a row that is no longer this worker's.
        self._x(
            f"UPDATE messages AS m SET gateway_ids = {_APPEND_ID} FROM {rows}"
            f" WHERE m.id = s.id AND {_ANOTHER_ID}",
            **batch,
        )

    def release(self, worker: str, ids: Sequence[int]) -> None:
        with self._c.relaxed():
            self._x(
                f"UPDATE messages SET outcome = {Outcome.PENDING}, worker = NULL,"
                f" lease_until = NULL WHERE {self._c.in_set('id', 'ids')}"
                f" AND worker = %(worker)s AND outcome IN ({Outcome.SENDING}, {Outcome.UNKNOWN})",
                ids=self._c.set_param(ids),
                worker=worker,
            )

    def release_stray(self, campaign: int, worker: str, keep: Sequence[int]) -> int:
        """Back to ``pending``: this worker's ``sending`` rows other than ``keep`` (claims whose
        commit went through while the worker heard an error: it never sent them)."""
        return self._x(
            f"UPDATE messages SET outcome = {Outcome.PENDING}, worker = NULL, lease_until = NULL"
            f" WHERE campaign = %(campaign)s AND worker = %(worker)s"
            f" AND outcome = {Outcome.SENDING} AND NOT ({self._c.in_set('id', 'keep')})",
            campaign=campaign,
            worker=worker,
            keep=self._c.set_param(keep),
        ).rowcount

    def expire(self, campaign: int, reason: str) -> int:
        now = self._c.now
        return self._x(
            f"UPDATE messages SET outcome = {Outcome.UNKNOWN}, reason = %(reason)s,"
            f" changed_at = {now} WHERE campaign = %(campaign)s AND outcome = {Outcome.SENDING}"
            f" AND lease_until < {now}",
            reason=reason,
            campaign=campaign,
            clock=self._c.now_ms(),
        ).rowcount

    def abandon(
        self, campaign: int, reason: str, *, label: str | None = None, keep: str | None = None
    ) -> int:
        """Every ``sending`` row becomes ``unknown``; with ``label``, only the rows of that
        worker label's runs other than ``keep`` (the dead runs of a label now running again)."""
        prefix = "" if label is None else label + "/"
        runs = (
            ""
            if label is None
            else " AND substr(worker, 1, %(length)s) = %(prefix)s AND worker <> %(keep)s"
        )
        return self._x(
            f"UPDATE messages SET outcome = {Outcome.UNKNOWN}, reason = %(reason)s,"
            f" changed_at = {self._c.now} WHERE campaign = %(campaign)s"
            f" AND outcome = {Outcome.SENDING}{runs}",
            reason=reason,
            campaign=campaign,
            length=len(prefix),
            prefix=prefix,
            keep=keep or "",
            clock=self._c.now_ms(),
        ).rowcount

    def remaining(self, campaign: int) -> tuple[int, int]:
        """(pending, sending): one count on each outcome's own index."""
        count = "SELECT count(*) FROM messages WHERE campaign = %(campaign)s AND outcome ="
        row = self._x(
            f"SELECT ({count} {Outcome.PENDING} AND {self._c.visible()}),"
            f" ({count} {Outcome.SENDING})",
            campaign=campaign,
        ).fetchone()
        return int(row[0]), int(row[1])

    # tracking ----------------------------------------------------------------------------------

    def due(self, campaign: int, checked_before: int, limit: int, now: int) -> list[Tracked]:
        rows = self._x(
            "WITH picked (pick) AS (SELECT id FROM messages"
            f"  WHERE campaign = %(campaign)s AND outcome = {Outcome.ACCEPTED}"
            "  AND (checked_at IS NULL OR checked_at <= %(before)s)"
            f"  ORDER BY checked_at NULLS FIRST, id LIMIT %(limit)s{self._c.skip_locked})"
            " UPDATE messages AS m SET checked_at = %(now)s FROM picked WHERE m.id = picked.pick"
            " RETURNING id, gateway_id, state",
            campaign=campaign,
            before=checked_before,
            limit=limit,
            now=now,
        ).fetchall()
        rows.sort()
        return [Tracked(*row) for row in rows]

    def record_states(self, changes: Sequence[tuple[int, int, int]], now: int) -> None:
        """``changes``: (message id, new state, new outcome)."""
        rows, batch = self._c.batch("c", _CHANGES, changes)
        with self._c.transaction():
            self._x(
                "UPDATE messages AS m SET state = c.state, outcome = c.outcome,"
                f" changed_at = %(now)s FROM {rows} WHERE m.id = c.id",
                now=now,
                **batch,
            )
            self._x(
                f"INSERT INTO events (message, at, state) SELECT id, %(now)s, state FROM {rows}",
                now=now,
                **batch,
            )

    def tracking_left(self, campaign: int) -> int:
        row = self._x(
            "SELECT count(*) FROM messages"
            f" WHERE campaign = %(campaign)s AND outcome = {Outcome.ACCEPTED}",
            campaign=campaign,
        ).fetchone()
        return int(row[0])

    # reporting and resolving -------------------------------------------------------------------

    def counts(self, campaign: int) -> list[tuple[int, int | None, int, int]]:
        return [
            (int(o), s, int(n), int(p or 0))
            for o, s, n, p in self._x(
                "SELECT outcome, state, count(*), sum(parts) FROM messages"
                f" WHERE campaign = %(campaign)s AND {self._c.visible()} GROUP BY outcome, state",
                campaign=campaign,
            ).fetchall()
        ]

    def accepted_dates(self, campaign: int) -> list[str]:
        """The ``date`` of each accepted message that has one (scheduled sends, see
        :func:`._report.scheduled`)."""
        return [
            str(row[0])
            for row in self._x(
                "SELECT date FROM messages WHERE campaign = %(campaign)s"
                f" AND outcome = {Outcome.ACCEPTED} AND date IS NOT NULL",
                campaign=campaign,
            ).fetchall()
        ]

    def sent_since(self, campaign: int, since: int) -> int:
        row = self._x(
            "SELECT count(*) FROM messages WHERE campaign = %(campaign)s AND sent_at >= %(since)s",
            campaign=campaign,
            since=since,
        ).fetchone()
        return int(row[0])

    def export(self, campaign: int) -> Iterator[ExportRow]:
        rows = self._c.stream(
            f"{_EXPORTED} WHERE campaign = %(campaign)s AND {self._c.visible()} ORDER BY id",
            {"campaign": campaign},
        )
        for row in rows:
            yield ExportRow(*row)

    def events(self, campaign: int) -> Iterator[tuple[str, int, int]]:
        rows = self._x(
            "SELECT m.key, e.at, e.state FROM events e JOIN messages m ON m.id = e.message"
            f" WHERE m.campaign = %(campaign)s ORDER BY e.{self._c.event_order}",
            campaign=campaign,
        )
        for key, at, state in rows:
            yield str(key), int(at), int(state)

    def resolve(
        self, campaign: int, *, resend: bool, now: int, reason: str, selection: Selection
    ) -> int:
        where, params = self._selected(selection)
        if resend:
            named = f" OR outcome = {Outcome.SKIPPED}" if selection.keys is not None else ""
            sql = (
                f"UPDATE messages SET outcome = {Outcome.PENDING}, worker = NULL,"
                " lease_until = NULL, reason = %(reason)s, changed_at = %(now)s"
                f" WHERE campaign = %(campaign)s AND (outcome = {Outcome.UNKNOWN}{named}){where}"
            )
        else:
            sql = (
                f"UPDATE messages SET outcome = {Outcome.SKIPPED}, reason = %(reason)s,"
                " changed_at = %(now)s"
                f" WHERE campaign = %(campaign)s AND outcome = {Outcome.UNKNOWN}{where}"
            )
        return self._x(sql, reason=reason, now=now, campaign=campaign, **params).rowcount

    def _selected(self, selection: Selection) -> tuple[str, dict[str, Any]]:
        """The ``WHERE`` conditions (each after ``AND``) of an operator's selection."""
        where, params = "", dict[str, Any]()
        if selection.run is not None:
            where += " AND (worker = %(run)s OR substr(worker, 1, %(length)s) = %(prefix)s)"
            prefix = selection.run + "/"
            params.update(run=selection.run, length=len(prefix), prefix=prefix)
        if selection.since is not None:
            where += " AND coalesce(changed_at, sent_at) >= %(since)s"
            params["since"] = selection.since
        if selection.until is not None:
            where += " AND coalesce(changed_at, sent_at) <= %(until)s"
            params["until"] = selection.until
        if selection.keys is not None:
            where += f" AND {self._c.in_set('key', 'keys')}"
            params["keys"] = self._c.set_param(selection.keys)
        return where, params

    def restore(self, campaign: int, records: Sequence[Restored], now: int) -> int:
        rows, batch = self._c.batch("s", _RESTORED, records)
        with self._c.transaction():
            moved = self._x(
                "UPDATE messages AS m SET outcome = s.outcome,"
                " gateway_id = coalesce(m.gateway_id, s.gateway_id), state = s.state,"
                " reason = s.reason, lease_until = NULL, worker = NULL,"
                f" sent_at = coalesce(m.sent_at, %(now)s) FROM {rows}"
                f" WHERE m.campaign = %(campaign)s AND m.key = s.key AND ({_RESTORABLE})"
                f" AND {self._c.visible('m.id')}",
                now=now,
                campaign=campaign,
                **batch,
            ).rowcount
            self._x(
                f"UPDATE messages AS m SET gateway_ids = {_APPEND_ID} FROM {rows}"
                f" WHERE m.campaign = %(campaign)s AND m.key = s.key AND {_ANOTHER_ID}",
                campaign=campaign,
                **batch,
            )
        return moved


_T = TypeVar("_T")


def _translated(method: Callable[..., _T]) -> Callable[..., _T]:
    """``method`` with the connector's fatal errors raised as ``JournalError`` (generators
    too), without their cause (a driver's message may quote a secret: the connector's words
    leave it out)."""
    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def generator(self: Store, *args: Any, **kwargs: Any) -> Any:
            try:
                yield from method(self, *args, **kwargs)
            except Exception as error:
                _raise_translated(self, error)

        return generator

    @functools.wraps(method)
    def call(self: Store, *args: Any, **kwargs: Any) -> _T:
        try:
            return method(self, *args, **kwargs)
        except Exception as error:
            _raise_translated(self, error)

    return call


def _raise_translated(store: Store, error: Exception) -> NoReturn:
    fatal = store._c.fatal(error)
    if fatal is None:
        raise error
    raise fatal from None


for _name, _method in list(vars(Store).items()):
    if not _name.startswith("_") and inspect.isfunction(_method) and _name != "transient":
        setattr(Store, _name, _translated(_method))
