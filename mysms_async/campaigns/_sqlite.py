"""The SQLite journal's connector: one file, WAL mode, one worker process per campaign.

What only SQLite does lives here (the journal's logic: :class:`._store.Store`): its connection, its
schema, its errors in an operator's words, its locks, chunked loads and its dialect (``:name``
parameters, a set or a batch of rows as one JSON array through ``json_each``).

Claims commit with ``synchronous=FULL``: a claim must survive a power cut, not only a killed
process, or a batch that went out could come back as ``pending`` and be sent again. Outcomes alone
commit without waiting for the disk (see :meth:`SQLiteConnector.relaxed`); outcomes merged with the
next claim (``settle_and_claim``) commit with it, synced. A second worker on the same campaign is
refused through an advisory lock on a byte (one per campaign) of the database file itself, so the
same journal reached through a hard link or a symlink is the same lock. The kernel drops the lock
the moment the holder dies, even by ``kill -9``; so the holder may also treat every ``sending`` row
of the campaign as abandoned. See :func:`_lock_byte` for why the lock lives on a descriptor this
module never closes.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import sqlite3
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final

from ._rules import JournalError
from ._store import NewRow, migrate, schema

_EVENTS: Final = (
    "CREATE TABLE events (message INTEGER NOT NULL, at INTEGER NOT NULL, state INTEGER NOT NULL)"
)
_SCHEMA: Final = (
    schema(serial="INTEGER PRIMARY KEY", big="INTEGER", real="REAL", small="INTEGER") + _EVENTS
)

_MIGRATIONS: Final[dict[int, str]] = {
    1: "ALTER TABLE messages ADD COLUMN gateway_ids TEXT;"
    " ALTER TABLE campaigns ADD COLUMN loading_above INTEGER",
}
"""From version N to N+1 (2: every gateway id a message was given, ``skipped`` outcome)."""
BUSY_TIMEOUT = 30.0
"""Seconds a statement waits for another connection's write lock before it fails (then the worker
retries it, see :meth:`._run.Worker._call`)."""

SLOT_AHEAD_LIMIT: Final = 5.0
"""Seconds: a stored send slot further ahead than this (and than four intervals) was written on a
clock that was ahead; it is said out loud and not waited for."""
logger = logging.getLogger("mysms_async.campaigns")

_HELD: set[tuple[int, int, int]] = set()
"""(device, inode, campaign) of the run locks this process holds: a POSIX lock does not refuse
its own process, so a second worker in the same process is refused here."""
_HELD_LOCK = threading.Lock()
_LOAD_LOCK_BASE: Final = 0x70000000
"""Byte ``_LOAD_LOCK_BASE + campaign``: held while a load stages rows into the campaign."""
_DROP_CHUNK: Final = 20_000
"""Ids per transaction when the rows of a failed (or dead) load are deleted."""
_FILES: dict[tuple[int, int], int] = {}
"""One descriptor per journal file (by device and inode), opened once and never closed."""
_RUN_LOCK_BASE: Final = 0x60000000
"""Byte ``_RUN_LOCK_BASE + campaign`` of the database file is the campaign's run lock: far past
SQLite's own lock bytes (0x40000000 to 0x400001FF), which it must never touch."""


def _wall_clock() -> float:
    """This machine's clock, looked up at each call (so that a test may move it)."""
    return time.time()


def _lock_byte(path: str, offset: int, *, lock: bool) -> tuple[int, int]:
    """Take (or release) an exclusive lock on one byte of the file at ``path``, without waiting;
    ``OSError`` if another process holds it. Returns the file's (device, inode).

    A plain POSIX lock would do, but closing *any* descriptor of a file drops every POSIX lock
    the process holds on it, SQLite's included. So the descriptor is opened once per file and
    kept for the life of the process, and on Linux the lock is an open-file-description lock
    (``F_OFD_SETLK``), which a connection closing its own descriptor does not drop either.
    """
    import fcntl

    status = os.stat(path)  # through symlinks: the file itself
    key = (status.st_dev, status.st_ino)
    fd = _FILES.get(key)
    if fd is None:
        fd = _FILES[key] = os.open(path, os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
    ofd = getattr(fcntl, "F_OFD_SETLK", None)
    if ofd is not None and sys.platform.startswith("linux") and struct.calcsize(_FLOCK) == 32:
        kind = fcntl.F_WRLCK if lock else fcntl.F_UNLCK
        fcntl.fcntl(fd, ofd, struct.pack(_FLOCK, kind, os.SEEK_SET, offset, 1, 0))
    else:  # pragma: no cover - other systems: a POSIX lock on the kept descriptor
        fcntl.lockf(fd, (fcntl.LOCK_EX | fcntl.LOCK_NB) if lock else fcntl.LOCK_UN, 1, offset)
    return key


_FLOCK: Final = "@hhqqixxxx"
"""``struct flock`` on 64-bit Linux: type, whence, start, length, pid (0), padding."""

_INSERT_ROWS: Final = (
    "INSERT INTO messages (campaign, key, line, destination, text, sender, date, ttl, parts,"
    " outcome, reason) SELECT {campaign}, "
    + ", ".join(f"value ->> {i}" for i in range(len(NewRow._fields)))
    + " FROM json_each(?) WHERE true ON CONFLICT (campaign, key) DO NOTHING"
)
"""``WHERE true``: SQLite's parser needs it between a ``SELECT`` and an upsert clause."""
_json_rows: Final = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
"""Texts as they are (a lone surrogate then fails as it would bound to a statement)."""


@functools.lru_cache(maxsize=256)
def _dialect(sql: str) -> str:
    """psycopg's placeholders in SQLite's words: ``%(name)s`` -> ``:name``, ``%%`` -> ``%``."""
    return _PLACEHOLDER.sub(lambda m: ":" + m[1] if m[1] else "%", sql)


_PLACEHOLDER: Final = re.compile(r"%\((\w+)\)s|%%")


class SQLiteConnector:
    kind = "sqlite"
    now = "%(clock)s"
    skip_locked = ""
    event_order = "rowid"

    def __init__(
        self, path: str, clock: Callable[[], float] | None = None, *, create: bool = True
    ) -> None:
        self.path = os.path.abspath(path)
        self._clock = clock or _wall_clock
        self._held: dict[int, tuple[int, int]] = {}
        self._loading: tuple[int, tuple[int, int]] | None = None
        if not create and not os.path.exists(self.path):
            raise JournalError(
                f"no journal at {self.path} (a mistyped --journal or MYSMS_JOURNAL? `mysms"
                " campaign create` makes one)"
            )
        if os.path.isdir(self.path):
            raise JournalError(f"the journal {self.path} is a directory, not a SQLite file")
        try:
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT
            )
        except sqlite3.Error as error:
            raise JournalError(f"cannot open the journal {self.path}: {error}") from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=OFF")
            self._db.execute("PRAGMA cache_size=-65536")  # 64 MiB: loads touch a random index
            self._migrate()
        except BaseException as error:
            self._db.close()
            if isinstance(error, sqlite3.Error):
                raise _fatal(error, self.path) or JournalError(
                    f"cannot open the journal {self.path}: {error}"
                ) from None
            raise

    def close(self) -> None:
        for campaign in list(self._held):
            self.unlock_worker(campaign)
        self._end_loading()
        self._db.close()

    def transient(self, error: BaseException) -> bool:
        if not isinstance(error, sqlite3.OperationalError):
            return False
        text = str(error).lower()
        return "locked" in text or "busy" in text

    def reconnect(self) -> None:
        """The connection outlives a held lock; only an open transaction must go."""
        if self._db.in_transaction:
            self._x("ROLLBACK")

    def fatal(self, error: BaseException) -> JournalError | None:
        return _fatal(error, self.path)

    # the dialect -------------------------------------------------------------------------------

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    def visible(self, id: str = "id") -> str:
        """Not a row of a load in progress (see *loading* below)."""
        return (
            f"{id} <= coalesce((SELECT loading_above FROM campaigns"
            " WHERE campaigns.id = %(campaign)s), 9223372036854775807)"
        )

    def in_set(self, column: str, name: str) -> str:
        return f"{column} IN (SELECT value FROM json_each(%({name})s))"

    def set_param(self, values: Sequence[Any]) -> Any:
        return json.dumps(list(values))

    def batch(
        self, alias: str, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]
    ) -> tuple[str, dict[str, Any]]:
        """One JSON array of arrays, one parameter."""
        picked = ", ".join(f"value ->> {i} AS {name}" for i, (name, _) in enumerate(columns))
        return f"(SELECT {picked} FROM json_each(%({alias})s)) AS {alias}", {
            alias: json.dumps(rows)
        }

    def execute(self, sql: str, params: Mapping[str, Any]) -> sqlite3.Cursor:
        return self._db.execute(_dialect(sql), params)

    def stream(self, sql: str, params: Mapping[str, Any]) -> Iterator[Any]:
        yield from self._db.cursor().execute(_dialect(sql), params)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self._x("BEGIN IMMEDIATE")
        try:
            yield
            self._x("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._x("ROLLBACK")
            raise

    @contextlib.contextmanager
    def relaxed(self) -> Iterator[None]:
        """Commit without waiting for the disk: for writes whose loss in a power cut is safe.

        Only a claim must reach the disk before its request is written. An outcome lost in a
        power cut leaves its rows ``sending``, and the next worker records them ``unknown``:
        never resent. The next claim's synced commit carries the relaxed ones to disk anyway.
        A killed process loses nothing either way (WAL).
        """
        self._x("PRAGMA synchronous=NORMAL")
        try:
            yield
        finally:
            self._x("PRAGMA synchronous=FULL")

    def _x(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._db.execute(sql, params)

    def _migrate(self) -> None:
        with self.transaction():
            tables = {
                row[0] for row in self._x("SELECT name FROM sqlite_master WHERE type='table'")
            }
            migrate(
                self._x,
                tables,
                _SCHEMA,
                _MIGRATIONS,
                now="strftime('%s','now') * 1000",
                where=self.path,
            )

    # loading -----------------------------------------------------------------------------------
    #
    # A load commits chunk by chunk, so that it never holds the write lock for long (a running
    # worker's commits wait for it). Meanwhile its rows are nobody's: the campaign's
    # ``loading_above`` holds the largest id before the load, and no claim, count or export sees
    # a row of the campaign above it (:meth:`visible`). ``end_load`` clears it (publishing every
    # row at once) or deletes the load's rows in short transactions. Loads of one campaign take
    # turns (a lock byte of the file); a load that died leaves its mark, and the next load
    # deletes the rows above it first.

    def begin_load(self, campaign: int) -> int:
        with _HELD_LOCK:
            status = os.stat(self.path)
            if (status.st_dev, status.st_ino, -campaign) in _HELD:
                raise JournalError(_SECOND_LOAD)
            try:
                key = _lock_byte(self.path, _LOAD_LOCK_BASE + campaign, lock=True)
            except OSError:
                raise JournalError(_SECOND_LOAD) from None
            _HELD.add((*key, -campaign))
            self._loading = (campaign, key)
        # No checkpoint after each chunk's commit (each would copy and sync the pages so far):
        # the WAL grows by the load, as it did when a load was one transaction, and is
        # checkpointed once at its end.
        self._x("PRAGMA wal_autocheckpoint=0")
        try:
            self._drop_load(campaign)  # what a load that died left
            first_new = int(self._x("SELECT coalesce(max(id), 0) FROM messages").fetchone()[0])
            self._x("UPDATE campaigns SET loading_above = ? WHERE id = ?", (first_new, campaign))
            return first_new
        except BaseException:
            self._end_loading()
            raise

    def insert_rows(self, campaign: int, rows: Sequence[NewRow]) -> int:
        """Insert what is new, in one short transaction; the count inserted (fewer than
        ``rows``: some keys were taken).

        The rows travel as one JSON array (a ``NewRow`` is a tuple of the columns in order)
        into one ``INSERT ... SELECT`` over ``json_each``: one step of SQLite's, which runs
        without the GIL from start to end, so the next chunk is parsed meanwhile (see
        :meth:`._journal.Journal.create`). ``executemany`` gives the GIL back and takes it again
        for every row, and a parser in another thread then slows both down.
        """
        before = self._db.total_changes
        with self.relaxed(), self.transaction():
            self._db.execute(_INSERT_ROWS.format(campaign=int(campaign)), (_json_rows(rows),))
        return self._db.total_changes - before

    def _drop_load(self, campaign: int) -> None:
        """Delete the rows of the campaign's unfinished load, a chunk of ids per transaction,
        then clear its mark."""
        (above,) = self._x(
            "SELECT loading_above FROM campaigns WHERE id = ?", (campaign,)
        ).fetchone()
        if above is None:
            return
        (high,) = self._x(
            "SELECT max(id) FROM messages WHERE campaign = ? AND id > ?", (campaign, above)
        ).fetchone()
        for start in range(int(above) + 1, int(high or above) + 1, _DROP_CHUNK):
            with self.transaction():
                self._x(
                    "DELETE FROM messages WHERE campaign = ? AND id >= ? AND id < ?",
                    (campaign, start, start + _DROP_CHUNK),
                )
        self._x("UPDATE campaigns SET loading_above = NULL WHERE id = ?", (campaign,))

    def _end_loading(self) -> None:
        with _HELD_LOCK:
            loading, self._loading = self._loading, None
            if loading is None:
                return
            self._x("PRAGMA wal_autocheckpoint=1000")  # SQLite's default
            with contextlib.suppress(sqlite3.Error):  # busy readers: a later commit does it
                self._x("PRAGMA wal_checkpoint(PASSIVE)")
            campaign, key = loading
            _lock_byte(self.path, _LOAD_LOCK_BASE + campaign, lock=False)
            _HELD.discard((*key, -campaign))

    def end_load(self, *, commit: bool) -> None:
        if self._loading is None:
            return
        campaign = self._loading[0]
        try:
            if self._db.in_transaction:
                self._x("ROLLBACK")
            if commit:  # every row of the load becomes visible at once
                self._x("UPDATE campaigns SET loading_above = NULL WHERE id = ?", (campaign,))
            else:
                self._drop_load(campaign)
        finally:
            self._end_loading()

    # running -----------------------------------------------------------------------------------

    def lock_worker(self, campaign: int, worker: str) -> None:
        with _HELD_LOCK:
            status = os.stat(self.path)
            if (status.st_dev, status.st_ino, campaign) in _HELD:
                raise JournalError(_SECOND_WORKER)
            try:
                key = _lock_byte(self.path, _RUN_LOCK_BASE + campaign, lock=True)
            except OSError:
                raise JournalError(_SECOND_WORKER) from None
            _HELD.add((*key, campaign))
            self._held[campaign] = key

    def unlock_worker(self, campaign: int) -> None:
        with _HELD_LOCK:
            key = self._held.pop(campaign, None)
            if key is None:
                return
            _lock_byte(self.path, _RUN_LOCK_BASE + campaign, lock=False)
            _HELD.discard((*key, campaign))

    def next_slot(
        self, campaign: int, margin: float, extra: float = 0.0
    ) -> tuple[float, float] | None:
        now = self._clock()
        stored, rate = self._x(
            "SELECT next_slot, rate_limit FROM campaigns WHERE id = ?", (campaign,)
        ).fetchone()
        if rate is None:
            return None
        interval = (1.0 + margin) / float(rate)
        ahead = float(stored) - now
        if ahead > max(SLOT_AHEAD_LIMIT, 4 * interval):
            # Written by a clock ahead of this one (or before this one was set back): waiting
            # for it would stop the campaign for that long, and no live worker can be that far
            # ahead with the one-worker lock held by us.
            logger.warning(
                "the journal's next send slot is %.0f s ahead of this machine's clock: written"
                " on a clock that was ahead; starting the pace again from now",
                ahead,
            )
            self._x("UPDATE campaigns SET next_slot = ? WHERE id = ?", (now, campaign))
        (slot,) = self._x(
            "UPDATE campaigns SET next_slot = max(next_slot, ?) + ? WHERE id = ?"
            " RETURNING next_slot",
            (now, interval + extra, campaign),
        ).fetchone()
        return max(0.0, float(slot) - interval - extra - now), interval


_SECOND_LOAD: Final = (
    "another load into this campaign is running on this SQLite journal: wait for it to finish"
)
_SECOND_WORKER: Final = (
    "another worker is already running this campaign on this SQLite journal: a SQLite journal"
    " serves one worker process per campaign (use a postgresql:// journal for several)"
)


def _fatal(error: BaseException, path: str) -> JournalError | None:
    """A SQLite error no retry can mend, in words for an operator; ``None``: not one of those
    (a busy or locked database is retried by the worker, see ``transient``)."""
    if not isinstance(error, sqlite3.DatabaseError):
        return None
    text = str(error).lower()
    if "locked" in text or "busy" in text:
        return None
    if "full" in text:  # SQLITE_FULL: the disk, or a size limit
        return JournalError(
            f"the journal {path} cannot grow: the disk is full ({error}); free some space and"
            " run the command again (what was committed is kept)"
        )
    if "readonly" in text or "read-only" in text or _read_only_fs(path):
        return JournalError(
            f"the journal {path} cannot be written ({error}): it is on a read-only file system"
            " or is a read-only file, and every campaign command writes to its journal (move or"
            " copy it to a writable place)"
        )
    if "not a database" in text or "file is encrypted" in text:
        return JournalError(f"{path} is not a SQLite database ({error}): a mistyped --journal?")
    if "malformed" in text or "corrupt" in text:
        return JournalError(
            f"the journal {path} is corrupt ({error}): restore it from a backup, or try"
            " `sqlite3 FILE .recover`"
        )
    if "disk i/o" in text or "unable to open" in text:
        return JournalError(f"the journal {path} cannot be read or written ({error})")
    return None


def _read_only_fs(path: str) -> bool:
    """The file system that holds ``path`` is mounted read-only (SQLite then says only that it
    is "unable to open database file": it cannot make its WAL index beside it)."""
    try:
        return bool(os.statvfs(os.path.dirname(path) or ".").f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False
