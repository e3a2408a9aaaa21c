"""The PostgreSQL journal: any number of workers on any machines share a campaign.

Only SQL lives here. Each method is one statement or one short transaction (autocommit), so a
claim is durable before its request is written. Claims and tracking rounds use
``FOR UPDATE SKIP LOCKED``: two workers never take the same row, and neither waits for the other.
The campaign's send slots come from one row updated atomically with the server's clock, so
``rate_limit`` holds for all workers together, whatever their own clocks say. Schema creation and
migration run under an advisory lock, so workers started together do not race to create it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from typing import Any, Final
from urllib.parse import unquote, urlsplit

import psycopg

from ._rules import SCHEMA_VERSION, JournalError, Outcome
from ._store import (
    CampaignRow,
    Claimed,
    ExportRow,
    NewRow,
    Restored,
    Selection,
    Settled,
    Tracked,
)

_SCHEMA: Final = f"""
CREATE TABLE mysms_schema (version INTEGER NOT NULL, applied_at BIGINT NOT NULL);
CREATE TABLE campaigns (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    rate_limit DOUBLE PRECISION,
    next_slot DOUBLE PRECISION NOT NULL DEFAULT 0
);
CREATE TABLE messages (
    id BIGSERIAL PRIMARY KEY,
    campaign BIGINT NOT NULL,
    key TEXT NOT NULL,
    line INTEGER NOT NULL,
    destination TEXT NOT NULL,
    text TEXT NOT NULL,
    sender TEXT,
    date TEXT,
    ttl INTEGER,
    parts INTEGER NOT NULL,
    outcome SMALLINT NOT NULL,
    gateway_id TEXT,
    state INTEGER,
    reason TEXT,
    worker TEXT,
    lease_until BIGINT,
    sent_at BIGINT,
    changed_at BIGINT,
    checked_at BIGINT
);
CREATE UNIQUE INDEX messages_key ON messages (campaign, key);
CREATE INDEX messages_pending ON messages (campaign, id) WHERE outcome = {Outcome.PENDING};
CREATE INDEX messages_sending ON messages (campaign, worker) WHERE outcome = {Outcome.SENDING};
CREATE INDEX messages_tracked ON messages (campaign, checked_at)
    WHERE outcome = {Outcome.ACCEPTED};
CREATE INDEX messages_unknown ON messages (campaign) WHERE outcome = {Outcome.UNKNOWN};
CREATE INDEX messages_sent ON messages (campaign, sent_at);
CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
    message BIGINT NOT NULL,
    at BIGINT NOT NULL,
    state INTEGER NOT NULL
);
CREATE INDEX events_message ON events (message);
"""

_MIGRATIONS: Final[dict[int, str]] = {
    1: "ALTER TABLE messages ADD COLUMN gateway_ids TEXT",
}
"""From version N to N+1 (2: every gateway id a message was given, ``skipped`` outcome)."""
_MINE: Final = f"({Outcome.SENDING}, {Outcome.UNKNOWN}, {Outcome.SKIPPED})"
_APPEND_ID: Final = (
    "CASE WHEN m.gateway_ids IS NULL THEN s.gateway_id"
    " WHEN ' ' || m.gateway_ids || ' ' LIKE '%% ' || s.gateway_id || ' %%'"
    " THEN m.gateway_ids ELSE m.gateway_ids || ' ' || s.gateway_id END"
)
"""``gateway_ids`` with ``s.gateway_id`` added unless it is there already."""
_ANOTHER_ID: Final = "s.gateway_id IS NOT NULL AND s.gateway_id IS DISTINCT FROM m.gateway_id"
"""An id that is not the row's first (``gateway_id``): ``gateway_ids`` keeps the others only.
Run after the outcome's update, which makes a first id the row's ``gateway_id``."""
_LOCK_KEY: Final = 0x6D79736D73  # "mysms": the advisory lock that serialises schema changes
_LOAD_LOCK: Final = 0x6D79  # with the campaign's id: the advisory lock that serialises its loads
_NOW_MS: Final = "(extract(epoch from clock_timestamp()) * 1000)::bigint"


class PostgresStore:
    kind = "postgresql"

    def __init__(self, url: str, password: str | None = None) -> None:
        check_url(url)
        if password is not None and _raw_password(url) is not None:
            raise JournalError(
                "journal URL: it has a password and a password was given apart: give it once"
            )
        self._url = url
        self._password = password
        self._db = self._connect()
        self._migrate()

    def __repr__(self) -> str:
        return "PostgresStore()"

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            extra: dict[str, Any] = {"application_name": "mysms-campaign"}
            if self._password is not None:
                extra["password"] = self._password
            return psycopg.connect(self._url, autocommit=True, **extra)
        except psycopg.Error as error:
            # The URL may hold a password: say what failed without it.
            raise JournalError(
                f"cannot connect to the PostgreSQL journal: {type(error).__name__}"
                f" ({_first_line(error, self._url, self._password)})"
            ) from None

    def close(self) -> None:
        self._db.close()

    def transient(self, error: BaseException) -> bool:
        if isinstance(error, JournalError):  # a reconnect that failed
            return True
        return isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError))

    def reconnect(self) -> None:
        """A connection the server closed does not come back by itself: open a new one."""
        if self._db.closed or self._db.broken:
            self._db.close()
            self._db = self._connect()
        elif self._db.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
            self._x("ROLLBACK")

    def _x(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        return self._db.execute(sql, params)

    def _migrate(self) -> None:
        with self._db.transaction():
            self._x("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            tables = {
                row[0]
                for row in self._x(
                    "SELECT table_name FROM information_schema.tables"
                    " WHERE table_schema = current_schema()"
                )
            }
            if "mysms_schema" not in tables:
                if "messages" in tables or "campaigns" in tables:
                    raise JournalError(
                        "the database has tables but no mysms_schema table: it is not a mysms"
                        " campaign journal"
                    )
                self._script(_SCHEMA)
                self._x(f"INSERT INTO mysms_schema VALUES (%s, {_NOW_MS})", (1,))
            version = self._x("SELECT max(version) FROM mysms_schema").fetchone()[0]  # type: ignore[index]
            if version > SCHEMA_VERSION:
                raise JournalError(
                    f"the journal has schema version {version}, newer than this library's"
                    f" {SCHEMA_VERSION}: upgrade mysms-async to open it"
                )
            while version < SCHEMA_VERSION:
                self._script(_MIGRATIONS[version])
                version += 1
                self._x(f"INSERT INTO mysms_schema VALUES (%s, {_NOW_MS})", (version,))

    def _script(self, sql: str) -> None:
        for statement in sql.split(";"):
            if statement.strip():
                self._x(statement)

    # campaigns ---------------------------------------------------------------------------------

    def create_campaign(self, name: str, now: int) -> CampaignRow:
        self._x(
            "INSERT INTO campaigns (name, created_at) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            (name, now),
        )
        found = self.campaign(name)
        assert found is not None
        return found

    def campaign(self, name: str) -> CampaignRow | None:
        row = self._x(
            "SELECT id, name, created_at, rate_limit FROM campaigns WHERE name = %s", (name,)
        ).fetchone()
        return None if row is None else CampaignRow(*row)

    def campaigns(self) -> list[CampaignRow]:
        rows = self._x("SELECT id, name, created_at, rate_limit FROM campaigns ORDER BY id")
        return [CampaignRow(*row) for row in rows]

    def has_messages(self, campaign: int) -> bool:
        found = self._x(
            "SELECT 1 FROM messages WHERE campaign = %s LIMIT 1", (campaign,)
        ).fetchone()
        return found is not None

    def drop_if_empty(self, campaign: int) -> None:
        self._x(
            "DELETE FROM campaigns WHERE id = %s"
            " AND NOT EXISTS (SELECT 1 FROM messages WHERE campaign = %s)",
            (campaign, campaign),
        )

    def set_rate_limit(self, campaign: int, rate: float | None) -> None:
        self._x("UPDATE campaigns SET rate_limit = %s WHERE id = %s", (rate, campaign))

    # loading -----------------------------------------------------------------------------------

    def begin_load(self, campaign: int) -> int:
        self._x("BEGIN")
        # One load at a time per campaign: the rows it adds are those with ids above this. An
        # advisory lock, not the campaign's row: the send slots update that row all the time.
        self._x("SELECT pg_advisory_xact_lock(%s, %s)", (_LOAD_LOCK, campaign))
        return int(self._x("SELECT coalesce(max(id), 0) FROM messages").fetchone()[0])  # type: ignore[index]

    def insert_rows(self, campaign: int, rows: Sequence[NewRow]) -> int:
        """COPY into a scratch table, then one INSERT: an order faster than row by row."""
        self._x(
            "CREATE TEMP TABLE IF NOT EXISTS mysms_load (LIKE messages INCLUDING DEFAULTS)"
            " ON COMMIT DELETE ROWS"
        )
        self._x("TRUNCATE mysms_load")
        with self._db.cursor().copy(
            "COPY mysms_load (campaign, key, line, destination, text, sender, date, ttl, parts,"
            " outcome, reason) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row((campaign, *row))
        return self._x(
            "INSERT INTO messages (campaign, key, line, destination, text, sender, date, ttl,"
            " parts, outcome, reason) SELECT campaign, key, line, destination, text, sender,"
            " date, ttl, parts, outcome, reason FROM mysms_load ORDER BY line"
            " ON CONFLICT (campaign, key) DO NOTHING"
        ).rowcount

    def existing(self, campaign: int, keys: Sequence[str]) -> dict[str, tuple[object, ...]]:
        rows = self._x(
            "SELECT key, id, line, destination, text, sender, date, ttl FROM messages"
            " WHERE campaign = %s AND key = ANY(%s)",
            (campaign, list(keys)),
        )
        return {row[0]: tuple(row[1:]) for row in rows}

    def end_load(self, *, commit: bool) -> None:
        if self._db.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            self._x("COMMIT" if commit else "ROLLBACK")

    # running -----------------------------------------------------------------------------------

    def lock_worker(self, campaign: int, worker: str) -> None:
        """Any number of workers may share a campaign here."""

    def unlock_worker(self, campaign: int) -> None:
        """Nothing to release."""

    def next_slot(
        self, campaign: int, margin: float, extra: float = 0.0
    ) -> tuple[float, float] | None:
        row = self._x(
            "WITH now AS (SELECT extract(epoch from clock_timestamp())::float8 AS t)"
            " UPDATE campaigns SET next_slot = greatest(next_slot, now.t)"
            "  + (1 + %s) / rate_limit + %s FROM now"
            " WHERE id = %s AND rate_limit IS NOT NULL"
            " RETURNING next_slot - (1 + %s) / rate_limit - %s - now.t, (1 + %s) / rate_limit",
            (margin, extra, campaign, margin, extra, margin),
        ).fetchone()
        if row is None:
            return None
        return max(0.0, float(row[0])), float(row[1])

    def claim(self, campaign: int, worker: str, limit: int, lease: float) -> list[Claimed]:
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
        """Answers in and the next claim out, in one transaction: one commit where a batch used
        to take two."""
        with self._db.transaction():
            if settled:
                self._settle(worker, settled, now)
            # one claim of ``limit`` per batch: a batch is one request, whatever other workers'
            # claims take meanwhile
            return [self._claim(campaign, worker, limit, lease) for _ in range(claims)]

    def _claim(self, campaign: int, worker: str, limit: int, lease: float) -> list[Claimed]:
        rows = self._x(
            "WITH picked AS (SELECT id FROM messages"
            f"  WHERE campaign = %s AND outcome = {Outcome.PENDING} ORDER BY id LIMIT %s"
            "  FOR UPDATE SKIP LOCKED)"
            f" UPDATE messages m SET outcome = {Outcome.SENDING}, worker = %s,"
            f" lease_until = {_NOW_MS} + %s FROM picked WHERE m.id = picked.id"
            " RETURNING m.id, m.destination, m.text, m.sender, m.date, m.ttl, m.key",
            (campaign, limit, worker, int(lease * 1000)),
        ).fetchall()
        rows.sort()
        return [Claimed(*row) for row in rows]

    def renew(self, campaign: int, worker: str, lease: float) -> None:
        self._x(
            f"UPDATE messages SET lease_until = {_NOW_MS} + %s"
            f" WHERE campaign = %s AND outcome = {Outcome.SENDING} AND worker = %s",
            (int(lease * 1000), campaign, worker),
        )

    def settle(self, worker: str, settled: Sequence[Settled], now: int) -> None:
        with self._db.transaction():
            self._settle(worker, settled, now)

    def _settle(self, worker: str, settled: Sequence[Settled], now: int) -> None:
        """One ``UPDATE ... FROM unnest(...)`` for the whole batch (and one for extra ids)."""
        rows = (
            " FROM unnest(%s::bigint[], %s::smallint[], %s::text[], %s::int[], %s::text[])"
            "  AS s(id, outcome, gateway_id, state, reason)"
        )
        columns = (
            [s.id for s in settled],
            [s.outcome for s in settled],
            [s.gateway_id for s in settled],
            [s.state for s in settled],
            [s.reason for s in settled],
        )
        self._x(
            "UPDATE messages m SET outcome = s.outcome,"
            " gateway_id = coalesce(m.gateway_id, s.gateway_id),"
            " state = s.state, reason = s.reason, lease_until = NULL, worker = NULL,"
            f" sent_at = %s{rows} WHERE m.id = s.id AND m.worker = %s AND m.outcome IN {_MINE}",
            (now, *columns, worker),
        )
        # Every id the gateway gave is kept, even on a row that is no longer this worker's.
        self._x(
            f"UPDATE messages m SET gateway_ids = {_APPEND_ID}{rows}"
            f" WHERE m.id = s.id AND {_ANOTHER_ID}",
            columns,
        )

    def release(self, worker: str, ids: Sequence[int]) -> None:
        self._x(
            f"UPDATE messages SET outcome = {Outcome.PENDING}, worker = NULL, lease_until = NULL"
            f" WHERE id = ANY(%s) AND worker = %s AND outcome IN ({Outcome.SENDING},"
            f" {Outcome.UNKNOWN})",
            (list(ids), worker),
        )

    def release_stray(self, campaign: int, worker: str, keep: Sequence[int]) -> int:
        return self._x(
            f"UPDATE messages SET outcome = {Outcome.PENDING}, worker = NULL, lease_until = NULL"
            f" WHERE campaign = %s AND worker = %s AND outcome = {Outcome.SENDING}"
            " AND NOT (id = ANY(%s))",
            (campaign, worker, list(keep)),
        ).rowcount

    def expire(self, campaign: int, reason: str) -> int:
        return self._x(
            f"UPDATE messages SET outcome = {Outcome.UNKNOWN}, reason = %s,"
            f" changed_at = {_NOW_MS} WHERE campaign = %s AND outcome = {Outcome.SENDING}"
            f" AND lease_until < {_NOW_MS}",
            (reason, campaign),
        ).rowcount

    def abandon(
        self, campaign: int, reason: str, *, label: str | None = None, keep: str | None = None
    ) -> int:
        prefix = None if label is None else label + "/"
        return self._x(
            f"UPDATE messages SET outcome = {Outcome.UNKNOWN}, reason = %s,"
            f" changed_at = {_NOW_MS} WHERE campaign = %s AND outcome = {Outcome.SENDING}"
            " AND (%s::text IS NULL OR (left(worker, %s) = %s AND worker <> %s))",
            (reason, campaign, prefix, len(prefix or ""), prefix, keep or ""),
        ).rowcount

    def remaining(self, campaign: int) -> tuple[int, int]:
        row = self._x(
            f"SELECT count(*) FILTER (WHERE outcome = {Outcome.PENDING}),"
            f" count(*) FILTER (WHERE outcome = {Outcome.SENDING})"
            f" FROM messages WHERE campaign = %s AND outcome IN ({Outcome.PENDING},"
            f" {Outcome.SENDING})",
            (campaign,),
        ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    # tracking ----------------------------------------------------------------------------------

    def due(self, campaign: int, checked_before: int, limit: int, now: int) -> list[Tracked]:
        rows = self._x(
            "WITH picked AS (SELECT id FROM messages"
            f"  WHERE campaign = %s AND outcome = {Outcome.ACCEPTED}"
            "  AND (checked_at IS NULL OR checked_at <= %s)"
            "  ORDER BY checked_at NULLS FIRST, id LIMIT %s FOR UPDATE SKIP LOCKED)"
            " UPDATE messages m SET checked_at = %s FROM picked WHERE m.id = picked.id"
            " RETURNING m.id, m.gateway_id, m.state",
            (campaign, checked_before, limit, now),
        ).fetchall()
        rows.sort()
        return [Tracked(*row) for row in rows]

    def record_states(self, changes: Sequence[tuple[int, int, int]], now: int) -> None:
        ids = [c[0] for c in changes]
        states = [c[1] for c in changes]
        outcomes = [c[2] for c in changes]
        with self._db.transaction():
            self._x(
                "UPDATE messages m SET state = c.state, outcome = c.outcome, changed_at = %s"
                " FROM unnest(%s::bigint[], %s::int[], %s::smallint[]) AS c(id, state, outcome)"
                " WHERE m.id = c.id",
                (now, ids, states, outcomes),
            )
            self._x(
                "INSERT INTO events (message, at, state)"
                " SELECT id, %s, state FROM unnest(%s::bigint[], %s::int[]) AS c(id, state)",
                (now, ids, states),
            )

    def tracking_left(self, campaign: int) -> int:
        row = self._x(
            f"SELECT count(*) FROM messages WHERE campaign = %s AND outcome = {Outcome.ACCEPTED}",
            (campaign,),
        ).fetchone()
        assert row is not None
        return int(row[0])

    # reporting ---------------------------------------------------------------------------------

    def counts(self, campaign: int) -> list[tuple[int, int | None, int, int]]:
        return [
            (int(o), s, int(n), int(p or 0))
            for o, s, n, p in self._x(
                "SELECT outcome, state, count(*), sum(parts) FROM messages WHERE campaign = %s"
                " GROUP BY outcome, state",
                (campaign,),
            )
        ]

    def accepted_dates(self, campaign: int) -> list[str]:
        return [
            str(row[0])
            for row in self._x(
                "SELECT date FROM messages WHERE campaign = %s"
                f" AND outcome = {Outcome.ACCEPTED} AND date IS NOT NULL",
                (campaign,),
            ).fetchall()
        ]

    def sent_since(self, campaign: int, since: int) -> int:
        row = self._x(
            "SELECT count(*) FROM messages WHERE campaign = %s AND sent_at >= %s",
            (campaign, since),
        ).fetchone()
        assert row is not None
        return int(row[0])

    def export(self, campaign: int) -> Iterator[ExportRow]:
        with self._db.transaction(), self._db.cursor(name="mysms_export") as cursor:
            cursor.execute(
                "SELECT key, line, destination, outcome, gateway_id, state, parts, reason,"
                " sent_at, coalesce(changed_at, sent_at), gateway_ids FROM messages"
                " WHERE campaign = %s ORDER BY id",
                (campaign,),
            )
            for row in cursor:
                yield ExportRow(*row)

    def events(self, campaign: int) -> Iterator[tuple[str, int, int]]:
        rows = self._x(
            "SELECT m.key, e.at, e.state FROM events e JOIN messages m ON m.id = e.message"
            " WHERE m.campaign = %s ORDER BY e.id",
            (campaign,),
        )
        for key, at, state in rows:
            yield str(key), int(at), int(state)

    def resolve(
        self, campaign: int, *, resend: bool, now: int, reason: str, selection: Selection
    ) -> int:
        where, params = _selected(selection)
        if resend:
            named = f" OR outcome = {Outcome.SKIPPED}" if selection.keys is not None else ""
            sql = (
                f"UPDATE messages SET outcome = {Outcome.PENDING}, worker = NULL,"
                " lease_until = NULL, reason = %s, changed_at = %s"
                f" WHERE campaign = %s AND (outcome = {Outcome.UNKNOWN}{named}){where}"
            )
        else:
            sql = (
                f"UPDATE messages SET outcome = {Outcome.SKIPPED}, reason = %s, changed_at = %s"
                f" WHERE campaign = %s AND outcome = {Outcome.UNKNOWN}{where}"
            )
        return self._x(sql, (reason, now, campaign, *params)).rowcount

    def restore(self, campaign: int, records: Sequence[Restored], now: int) -> int:
        rows = (
            " FROM unnest(%s::text[], %s::smallint[], %s::text[], %s::int[], %s::text[],"
            "  %s::text[]) AS s(key, outcome, gateway_id, state, reason, run)"
        )
        columns = tuple([r[i] for r in records] for i in range(6))
        with self._db.transaction():
            moved = self._x(
                "UPDATE messages m SET outcome = s.outcome,"
                " gateway_id = coalesce(m.gateway_id, s.gateway_id), state = s.state,"
                " reason = s.reason, lease_until = NULL, worker = NULL,"
                f" sent_at = coalesce(m.sent_at, %s){rows}"
                f" WHERE m.campaign = %s AND m.key = s.key AND ({_RESTORABLE})",
                (now, *columns, campaign),
            ).rowcount
            self._x(
                f"UPDATE messages m SET gateway_ids = {_APPEND_ID}{rows}"
                f" WHERE m.campaign = %s AND m.key = s.key AND {_ANOTHER_ID}",
                (*columns, campaign),
            )
        return moved


_RESTORABLE: Final = (
    f"(m.worker = s.run AND m.outcome IN ({Outcome.SENDING}, {Outcome.UNKNOWN}))"
    f" OR (s.outcome NOT IN ({Outcome.PENDING}, {Outcome.UNKNOWN})"
    f" AND m.outcome IN ({Outcome.PENDING}, {Outcome.UNKNOWN}, {Outcome.SKIPPED}))"
)
"""A held outcome goes back over its own run's row still in flight or unknown; one that says
what happened (not ``pending``, not ``unknown``) also over a row resolved meanwhile."""


def _selected(selection: Selection) -> tuple[str, list[Any]]:
    where, params = "", []
    if selection.run is not None:
        prefix = selection.run + "/"
        where += " AND (worker = %s OR left(worker, %s) = %s)"
        params += [selection.run, len(prefix), prefix]
    if selection.since is not None:
        where += " AND coalesce(changed_at, sent_at) >= %s"
        params.append(selection.since)
    if selection.until is not None:
        where += " AND coalesce(changed_at, sent_at) <= %s"
        params.append(selection.until)
    if selection.keys is not None:
        where += " AND key = ANY(%s)"
        params.append(list(selection.keys))
    return where, params


def _raw_password(url: str) -> str | None:
    """The password as the URL's structure places it, before any parsing: after the first ``:``
    of the user part, up to the *last* ``@`` (a raw ``/`` or ``@`` in it fools a parser)."""
    rest = url.split("://", 1)[-1]
    if "@" not in rest:
        return None
    userinfo = rest.rsplit("@", 1)[0]
    return userinfo.split(":", 1)[1] if ":" in userinfo else None


def check_url(url: str) -> None:
    """Refuse, before libpq parses it, a URL whose password is not percent-encoded: libpq's
    complaint would quote the URL from the bad character on, and so part of the password."""
    password = _raw_password(url)
    if password is None:
        return
    if any(c in password for c in "/?#@") or re.search(r"%(?![0-9A-Fa-f]{2})", password):
        raise JournalError(
            "journal URL: the password must be percent-encoded (a '/', '?', '#', '@' or '%' in"
            " it written %2F, %3F, %23, %40, %25), or left out of the URL and given by"
            " PGPASSWORD, ~/.pgpass or --journal-password-file; it is not shown here"
        )


def _secrets(url: str, password: str | None) -> list[str]:
    """Every form the password may take in a driver's message, longest first."""
    found = {_raw_password(url), password}
    with contextlib.suppress(ValueError):
        found.add(urlsplit(url).password)
    found |= {unquote(s) for s in found if s}
    return sorted((s for s in found if s), key=len, reverse=True)


def _first_line(error: BaseException, url: str, password: str | None = None) -> str:
    """The driver's message, first line only, with the password removed in every form; withheld
    if any four characters of it in a row are still there (a message quoting part of it)."""
    text = str(error).splitlines()[0] if str(error) else "no message"
    secrets = _secrets(url, password)
    for secret in secrets:
        text = text.replace(secret, "***")
    for secret in secrets:
        if any(secret[i : i + 4] in text for i in range(len(secret) - 3)):
            return "the driver's message is withheld: it quoted part of the password"
    return text
