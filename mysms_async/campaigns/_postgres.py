"""The PostgreSQL journal's connector: any number of workers on any machines share a campaign.

What only PostgreSQL does lives here (the journal's logic: :class:`._store.Store`): its connection
(and a new one after the server closed it), its schema, the password kept out of every message, its
advisory locks, a load as one transaction filled by ``COPY``, its clock and its dialect (a set as an
array, a batch of rows as ``unnest`` of one array per column). The connection is in autocommit: each
statement or short transaction is durable before the next.

Claims and tracking rounds use ``FOR UPDATE SKIP LOCKED``: two workers never take the same row, and
neither waits for the other. The campaign's send slots come from one row updated atomically with the
server's clock, so ``rate_limit`` holds for all workers together, whatever their own clocks say.
Schema creation and migration run under an advisory lock, so workers started together do not race to
create it.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final
from urllib.parse import unquote, urlsplit

import psycopg

from ._rules import JournalError
from ._store import NewRow, migrate, schema

_SCHEMA: Final = schema(
    serial="BIGSERIAL PRIMARY KEY",
    big="BIGINT",
    real="DOUBLE PRECISION",
    small="SMALLINT",
    key='TEXT COLLATE "C"',
) + (
    "CREATE INDEX messages_sent ON messages (campaign, sent_at) WHERE sent_at IS NOT NULL;"
    " CREATE TABLE events (id BIGSERIAL PRIMARY KEY, message BIGINT NOT NULL,"
    " at BIGINT NOT NULL, state INTEGER NOT NULL);"
    " CREATE INDEX events_message ON events (message);"
)

_MIGRATIONS: Final[dict[int, str]] = {
    1: "ALTER TABLE messages ADD COLUMN gateway_ids TEXT",
}
"""From version N to N+1 (2: every gateway id a message was given, ``skipped`` outcome).

A journal made since the load got faster (``key`` compared byte by byte, ``COLLATE "C"``:
uniqueness is the same, the index cheaper than a locale's order; ``messages_sent`` only over sent
rows, what :meth:`._store.Store.sent_since` reads) differs from an older one in nothing else;
an older one keeps its indexes and works as before."""
_LOADED: Final = "campaign, key, line, destination, text, sender, date, ttl, parts, outcome, reason"
"""The columns a load writes, in the order of ``(campaign, *NewRow)``."""
_LOCK_KEY: Final = 0x6D79736D73  # "mysms": the advisory lock that serialises schema changes
_LOAD_LOCK: Final = 0x6D79  # with the campaign's id: the advisory lock that serialises its loads
_NOW_MS: Final = "(extract(epoch from clock_timestamp()) * 1000)::bigint"


class PostgresConnector:
    kind = "postgresql"
    now = _NOW_MS
    skip_locked = " FOR UPDATE SKIP LOCKED"
    event_order = "id"

    def __init__(self, url: str, password: str | None = None) -> None:
        check_url(url)
        if password is not None and _raw_password(url) is not None:
            raise JournalError(
                "journal URL: it has a password and a password was given apart: give it once"
            )
        self._url = url
        self._password = password
        self._direct = True
        self._db = self._connect()
        self._migrate()

    def __repr__(self) -> str:
        return "PostgresConnector()"

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

    def fatal(self, error: BaseException) -> JournalError | None:
        """None here: a lost connection is retried, and the rest is said as the driver says it."""
        return None

    # the dialect -------------------------------------------------------------------------------

    def now_ms(self) -> int:
        """Unused in SQL (:attr:`now` is the server's clock)."""
        return int(time.time() * 1000)

    def visible(self, id: str = "id") -> str:
        """Every committed row: a load is one transaction, unseen until it commits."""
        return "TRUE"

    def in_set(self, column: str, name: str) -> str:
        return f"{column} = ANY(%({name})s)"

    def set_param(self, values: Sequence[Any]) -> Any:
        return list(values)

    def batch(
        self, alias: str, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]
    ) -> tuple[str, dict[str, Any]]:
        """One typed array per column (``%(s0)s::bigint[]``...), unnested side by side."""
        arrays = ", ".join(f"%({alias}{i})s::{kind}[]" for i, (_, kind) in enumerate(columns))
        names = ", ".join(name for name, _ in columns)
        params = {f"{alias}{i}": [row[i] for row in rows] for i in range(len(columns))}
        return f"unnest({arrays}) AS {alias}({names})", params

    def execute(self, sql: str, params: Mapping[str, Any]) -> psycopg.Cursor[Any]:
        return self._db.execute(sql, params)

    def stream(self, sql: str, params: Mapping[str, Any]) -> Iterator[Any]:
        """A server-side cursor, in its own transaction."""
        with self._db.transaction(), self._db.cursor(name="mysms_export") as cursor:
            cursor.execute(sql, params)
            yield from cursor

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        return self._db.transaction()  # type: ignore[return-value]

    def relaxed(self) -> contextlib.AbstractContextManager[None]:
        """Every commit waits for the disk here (``synchronous_commit`` is the server's)."""
        return contextlib.nullcontext()

    def _x(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        return self._db.execute(sql, params)

    def _migrate(self) -> None:
        """Under an advisory lock: workers started together do not race to create it."""
        with self._db.transaction():
            self._x("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            tables = {
                row[0]
                for row in self._x(
                    "SELECT table_name FROM information_schema.tables"
                    " WHERE table_schema = current_schema()"
                )
            }
            migrate(self._x, tables, _SCHEMA, _MIGRATIONS, now=_NOW_MS, where="the database")

    # loading -----------------------------------------------------------------------------------

    def begin_load(self, campaign: int) -> int:
        self._x("BEGIN")
        self._direct = True
        # One load at a time per campaign: the rows it adds are those with ids above this. An
        # advisory lock, not the campaign's row: the send slots update that row all the time.
        self._x("SELECT pg_advisory_xact_lock(%s, %s)", (_LOAD_LOCK, campaign))
        return int(self._x("SELECT coalesce(max(id), 0) FROM messages").fetchone()[0])  # type: ignore[index]

    def insert_rows(self, campaign: int, rows: Sequence[NewRow]) -> int:
        """COPY straight into ``messages`` while no key is taken; else (and for the rest of
        the load: a file loaded again has its keys taken throughout) COPY into a scratch table
        and one ``INSERT ... ON CONFLICT DO NOTHING``. Both an order faster than row by row;
        the straight COPY spares the server a second write and a sort of every row.

        The straight COPY runs in a savepoint: a taken key (in the journal, or twice in the
        chunk) fails it and leaves nothing of it, and the chunk goes the other way.
        """
        if self._direct:
            try:
                with self._db.transaction():  # a savepoint in the load's transaction
                    self._copy("messages", campaign, rows)
                return len(rows)
            except psycopg.errors.UniqueViolation:
                self._direct = False
        self._x(
            "CREATE TEMP TABLE IF NOT EXISTS mysms_load (LIKE messages INCLUDING DEFAULTS)"
            " ON COMMIT DELETE ROWS"
        )
        self._x("TRUNCATE mysms_load")
        self._copy("mysms_load", campaign, rows)
        return self._x(
            f"INSERT INTO messages ({_LOADED}) SELECT {_LOADED} FROM mysms_load ORDER BY line"
            " ON CONFLICT (campaign, key) DO NOTHING"
        ).rowcount

    def _copy(self, table: str, campaign: int, rows: Sequence[NewRow]) -> None:
        with self._db.cursor().copy(f"COPY {table} ({_LOADED}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((campaign, *row))

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
