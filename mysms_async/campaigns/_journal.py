"""``Journal`` and ``Campaign``: the public face of the campaign journal.

A ``Journal`` is one store, opened from a URL; a ``Campaign`` is a name in it. Each method is a
thin composition of a store (SQL), the rules, and a worker, tracker or report.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
from collections.abc import AsyncIterable, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from types import TracebackType
from typing import IO, Any, TypeVar

import anyio
import anyio.to_thread

from .._client import MySMSClient
from .._exceptions import ValidationError
from .._table import DEFAULT_MAX_PARTS, Table
from .._telemetry import campaign_attributes
from ._load import Source, read_chunks, read_file, row_of, same_content
from ._open import open_store
from ._report import Report, build_report, export_rows, write_export
from ._rules import (
    DEFAULT_BATCH,
    DEFAULT_JOURNAL_RETRY,
    DEFAULT_LEASE,
    DEFAULT_TRACK_BATCH,
    DEFAULT_TRACK_INTERVAL,
    LOAD_CHUNK,
    DuplicateKeyError,
    JournalError,
    Outcome,
    Seconds,
    seconds,
)
from ._run import RunSummary, Worker, now_ms, recover
from ._store import CampaignRow, NewRow, Restored, Selection, Store
from ._track import TrackSummary, track

T = TypeVar("T")
ENV_JOURNAL = "MYSMS_JOURNAL"
DEFAULT_JOURNAL = "sqlite:///mysms-campaigns.db"


class Journal:
    """A campaign journal: ``sqlite:///FILE`` (the default, one worker per campaign) or
    ``postgresql://user@host:port/db`` (any number of workers; the ``[postgres]`` extra).

    The schema is created on first use and its version checked on every open. Use it as a
    context manager, or call :meth:`close`. A PostgreSQL password may be in the URL
    (percent-encoded), given as ``password``, or left to libpq (``PGPASSWORD``, ``~/.pgpass``);
    it never appears in an error or a repr. ``create=False``: a SQLite file that does not exist
    raises ``JournalError`` instead of becoming an empty journal (a mistyped path). A journal
    that is corrupt, not a database, read-only or on a full disk raises ``JournalError`` too.
    """

    url: str

    def __init__(
        self, url: str | None = None, *, password: str | None = None, create: bool = True
    ) -> None:
        self.url = url or os.environ.get(ENV_JOURNAL) or DEFAULT_JOURNAL
        if password is not None and (not isinstance(password, str) or not password):
            raise ValidationError("password", "must be a non-empty string")
        self._store: Store = open_store(self.url, password, create=create)

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the database connection (and, on SQLite, release this process's run locks)."""
        self._store.close()

    def __repr__(self) -> str:
        return f"Journal(kind={self._store.kind!r})"

    @property
    def kind(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._store.kind

    def names(self) -> list[str]:
        """The names of the campaigns in this journal, in the order they were created."""
        return [row.name for row in self._store.campaigns()]

    def campaign(self, name: str) -> Campaign:
        """The campaign called ``name``; ``JournalError`` if there is none."""
        row = self._store.campaign(name)
        if row is None:
            raise JournalError(f"no campaign {name!r} in this journal (create it first)")
        if not self._store.has_messages(row.id):  # its first load died, or is still going on
            raise JournalError(
                f"no campaign {name!r} in this journal: its create did not finish (killed?) or"
                " is still loading; run the create again"
            )
        return Campaign(self._store, row)

    async def create(
        self,
        name: str,
        source: Source,
        *,
        input_format: str | None = None,
        max_parts: int = DEFAULT_MAX_PARTS,
    ) -> Campaign:
        """Load ``source`` into campaign ``name`` (made if new).

        Rows already in the campaign with the same key and content are skipped; a row whose key is
        taken by a different row raises :class:`DuplicateKeyError` and nothing of this load is
        kept. ``campaign.loaded`` counts what this load added. No row of a load is sent before
        the load ends; a running campaign keeps sending meanwhile (PostgreSQL: one transaction
        that holds nothing a worker needs; SQLite: short transactions of staged rows, published
        at the end). ``LOAD_CHUNK`` rows at a time.

        A file is read by ``bulk``'s reader with its rules (:mod:`mysms_async._table`): a row
        that is not valid UTF-8, holds a NUL byte or needs more than ``max_parts`` SMS parts
        (``0``: no limit) is journaled as invalid with its reason; a file that cannot be read at
        all (missing, binary, empty, no header) raises ``ValueError`` before anything is made;
        so does a first load with no rows, and a first load that fails removes the campaign.
        """
        if not isinstance(name, str) or not name or len(name) > 200:
            raise ValidationError("name", "must be a string of 1 to 200 characters")
        if not name.isprintable():
            raise ValidationError("name", "must not contain control characters (an ANSI escape?)")
        if isinstance(source, (str, os.PathLike)):
            # A file that cannot be read at all (missing, binary, empty, no usable header) is
            # refused before the campaign is made: a failed create leaves no empty campaign.
            Table(
                os.fspath(source), input_format, max_parts=max_parts, extra_columns=("key",)
            ).close()
        store = self._store
        found = await _db(store.campaign, name)
        existed = found is not None and await _db(store.has_messages, found.id)
        row = await _db(store.create_campaign, name, now_ms())
        loaded = {"added": 0, "invalid": 0, "skipped": 0}
        first_new = await _db(store.begin_load, row.id)
        committed = False
        try:
            if isinstance(source, (str, os.PathLike)):
                chunks = read_chunks(
                    os.fspath(source), input_format, max_parts=max_parts, size=LOAD_CHUNK
                )

                def parse() -> list[NewRow]:
                    return next(chunks, [])

                # The next chunk is read and parsed while the journal inserts this one: an
                # insert is one statement that runs without the GIL (SQLite's one step, or
                # PostgreSQL's server), so the two share the machine's cores.
                parser = ThreadPoolExecutor(1, thread_name_prefix="mysms-load")
                try:
                    ahead = parser.submit(parse)
                    while chunk := await anyio.to_thread.run_sync(ahead.result):
                        ahead = parser.submit(parse)
                        await _db(_insert, store, row.id, chunk, first_new, loaded)
                finally:
                    parser.shutdown(wait=False, cancel_futures=True)
            else:
                chunk = []
                async for line, record in _records(source, input_format, max_parts):
                    chunk.append(row_of(line, record, max_parts))
                    if len(chunk) >= LOAD_CHUNK:
                        await _db(_insert, store, row.id, chunk, first_new, loaded)
                        chunk = []
                if chunk:
                    await _db(_insert, store, row.id, chunk, first_new, loaded)
            if not existed and not any(loaded.values()):
                raise ValueError("has no rows: a campaign needs at least one")
            await _db(store.end_load, commit=True)
            committed = True
        finally:
            if not committed:
                with anyio.CancelScope(shield=True):
                    await _db(store.end_load, commit=False)
                    if not existed:  # a failed first load leaves no empty campaign behind
                        await _db(store.drop_if_empty, row.id)
        campaign = Campaign(store, row)
        campaign.loaded = loaded
        return campaign


async def _db(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A journal call in a worker thread: the event loop never waits for the journal."""
    return await anyio.to_thread.run_sync(functools.partial(call, *args, **kwargs))


async def _records(
    source: Source, fmt: str | None, max_parts: int
) -> AsyncIterable[tuple[int, Any]]:
    if isinstance(source, (str, os.PathLike)):
        for item in read_file(os.fspath(source), fmt, max_parts=max_parts):
            yield item
    elif isinstance(source, AsyncIterable):
        line = 0
        async for record in source:
            line += 1
            yield line, record
    else:
        for line, record in enumerate(source, 1):
            yield line, record


def _insert(
    store: Store, campaign: int, chunk: list[NewRow], first_new: int, loaded: dict[str, int]
) -> None:
    if store.insert_rows(campaign, chunk) == len(chunk):  # no key was taken: all are new
        invalid = sum(1 for row in chunk if row.outcome == Outcome.INVALID)
        loaded["invalid"] += invalid
        loaded["added"] += len(chunk) - invalid
        return
    stored = store.existing(campaign, [row.key for row in chunk])
    for row in chunk:
        found = stored[row.key]
        ours = int(found[0]) > first_new and found[1] == row.line  # type: ignore[call-overload]
        if ours:
            loaded["invalid" if row.outcome == Outcome.INVALID else "added"] += 1
        elif same_content(row, found):
            loaded["skipped"] += 1
        else:
            raise DuplicateKeyError(row.key, int(found[1]), row.line)  # type: ignore[call-overload]


class Campaign:
    """One campaign in a journal: run it, track it, report on it, export it, resolve it."""

    def __init__(self, store: Store, row: CampaignRow) -> None:
        self._store = store
        self._row = row
        self.loaded: dict[str, int] = {}

    @property
    def name(self) -> str:
        """The campaign's name, as given to :meth:`Journal.create`."""
        return self._row.name

    def __repr__(self) -> str:
        return f"Campaign(name={self.name!r})"

    async def run(
        self,
        client: MySMSClient,
        *,
        batch_size: int = DEFAULT_BATCH,
        lanes: int = 1,
        rate_limit: float | None = None,
        lease: Seconds = DEFAULT_LEASE,
        worker_id: str | None = None,
        stop: anyio.Event | None = None,
        on_batch: Callable[[RunSummary], None] | None = None,
        journal_retry: Seconds = DEFAULT_JOURNAL_RETRY,
        fallback: str | os.PathLike[str] | None = None,
    ) -> RunSummary:
        """Send every pending message, ``batch_size`` per request, ``lanes`` requests at a time.

        Returns when nothing is pending and nothing is in flight (other workers' rows included:
        a dead worker's rows become ``unknown`` once their lease runs out), or when ``stop`` is
        set and this worker's requests have been answered.

        ``rate_limit`` (HTTP requests per second) is the campaign's, stored in the journal: given
        here it sets the rate for every worker of the campaign, running or to come, since each
        reads it before every request; ``None`` keeps the journal's (:attr:`rate_limit`). One
        claim is one request: ``batch_size`` messages on POST, capped by the client's own
        ``batch_size``; one message on GET.

        A journal fault (a lost connection, a restarted server, a SQLite lock held by another
        process) does not lose an answer: the write is retried, reconnecting, for up to
        ``journal_retry`` seconds with backoff, and nothing new is claimed meanwhile. If the
        journal stays unusable the outcomes held are appended to ``fallback`` (by default
        ``mysms-held-<campaign>-<run>.jsonl`` in the current directory) and a
        :class:`JournalError` naming that file ends the run; :meth:`restore` puts them back.
        """
        if worker_id is not None and (
            not isinstance(worker_id, str) or not worker_id or "/" in worker_id
        ):
            raise ValidationError(
                "worker_id", "must be a non-empty label without '/' (the run adds its own id)"
            )
        for field, value in (("batch_size", batch_size), ("lanes", lanes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValidationError(field, "must be an integer of at least 1", value)
        lease_seconds = seconds("lease", lease)
        retry_seconds = seconds("journal_retry", journal_retry)
        if fallback is not None and not isinstance(fallback, (str, os.PathLike)):
            raise ValidationError("fallback", "must be a file path", fallback)
        if rate_limit is not None:
            if (
                isinstance(rate_limit, bool)
                or not isinstance(rate_limit, (int, float))
                or not 0 < rate_limit < float("inf")
            ):
                raise ValidationError("rate_limit", "must be a positive number of requests/s")
            self._store.set_rate_limit(self._row.id, float(rate_limit))
        worker = Worker(
            self._store,
            self._row.id,
            client,
            batch_size=batch_size,
            lease=lease_seconds,
            lanes=lanes,
            worker_id=worker_id,
            stop=stop,
            on_batch=on_batch,
            name=self.name,
            journal_retry=retry_seconds,
            fallback=None if fallback is None else os.fspath(fallback),
        )
        # on its spans and metrics: the worker's label (stable across runs, so metrics keep few
        # series), not the run id that makes each run unique
        with campaign_attributes(self.name, worker.label):
            return await worker.run()

    async def track(
        self,
        client: MySMSClient,
        *,
        until_final: bool = False,
        timeout: Seconds | None = None,  # noqa: ASYNC109 - stops tracking, not a cancel
        interval: Seconds = DEFAULT_TRACK_INTERVAL,
        batch_size: int = DEFAULT_TRACK_BATCH,
    ) -> TrackSummary:
        """Ask the gateway about accepted messages: one round, or until each is final (or the
        ``timeout`` passes) with ``until_final``."""
        return await track(
            self._store,
            self._row.id,
            client,
            until_final=until_final,
            timeout=None if timeout is None else seconds("timeout", timeout),
            interval=seconds("interval", interval),
            batch_size=batch_size,
        )

    @property
    def rate_limit(self) -> float | None:
        """The campaign's rate in HTTP requests per second, as the journal holds it now."""
        row = self._store.campaign(self.name)
        return None if row is None else row.rate_limit

    def recover(self) -> int:
        """Make what crashed workers left in flight ``unknown`` (see the README's guarantee):
        rows whose lease ran out and, on SQLite when no worker holds the campaign's run lock,
        every row in flight. Returns how many moved. ``resolve`` calls it first; so does
        ``mysms campaign status``."""
        return recover(self._store, self._row.id)

    def report(self, *, price_per_part: Decimal | None = None) -> Report:
        """Counts by outcome, states, pace and (with ``price_per_part``) cost, read now from
        the journal. Raises ``JournalError`` when the journal cannot be read."""
        return build_report(self._store, self._row.id, self.name, price_per_part)

    def export(self, stream: IO[str], *, fmt: str = "csv") -> int:
        """Write one row per message (CSV or ``jsonl``) to ``stream``; return how many."""
        return write_export(self._store, self._row.id, stream, fmt)

    def export_records(self) -> Iterator[dict[str, Any]]:
        """One dict per message, the export's columns, in load order (streamed)."""
        return export_rows(self._store, self._row.id)

    def events(self) -> Iterable[tuple[str, int, int]]:
        """(key, time in ms, state) of every state change tracking recorded, in order."""
        return self._store.events(self._row.id)

    def resolve(
        self,
        *,
        resend_unknown: bool,
        run: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        keys: Iterable[str] | None = None,
    ) -> int:
        """Decide about ``unknown`` messages; return how many moved.

        ``resend_unknown=True`` puts them back to ``pending`` (the next run sends them again,
        perhaps a second time); ``False`` makes them ``skipped``, a final outcome that no later
        resend reverses unless it names the message by key. Without a selection every
        ``unknown`` message is meant; ``run`` (a run id or a worker label: the run that had them
        in flight), ``since``/``until`` (when they became unknown; aware datetimes) and ``keys``
        narrow it, all together. Only ``keys`` can resend a ``skipped`` message.
        """
        selection = _selection(run, since, until, keys)
        self.recover()
        if resend_unknown:
            reason = "outcome was unknown; resend ordered by the operator"
        else:
            reason = "outcome unknown; the operator chose never to resend it"
        return self._store.resolve(
            self._row.id, resend=resend_unknown, now=now_ms(), reason=reason, selection=selection
        )

    def restore(self, path: str | os.PathLike[str]) -> int:
        """Put back the outcomes a worker wrote to its fallback file when the journal failed
        it; return how many messages moved. Every gateway id in the file is kept; an outcome
        goes over its own run's row still ``sending`` or ``unknown``, and one that says what
        happened (accepted, refused, ...) also over a row resolved since. Run it before the
        campaign runs again. The whole file is checked before anything is written."""
        records = read_held(os.fspath(path), self.name)
        self.recover()
        if not records:
            return 0
        return self._store.restore(self._row.id, records, now_ms())


def read_held(path: str, campaign: str) -> list[Restored]:
    """The records of a fallback file, each checked; a bad line is an error naming it."""
    labels = {outcome.label: outcome for outcome in Outcome}
    records: list[Restored] = []
    try:
        stream = open(path, encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as error:
        raise JournalError(f"cannot read {path}: {error.strerror}") from None
    with stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                if not isinstance(item, dict):
                    raise TypeError
                if item["campaign"] != campaign:
                    raise JournalError(
                        f"{path} line {number}: campaign {item['campaign']!r}, not {campaign!r}"
                    )
                outcome = labels[item["outcome"]]
                key, gateway_id, state = item["key"], item["id"], item["state"]
                reason, run = item["reason"], item["run"]
                if not (
                    isinstance(key, str)
                    and isinstance(run, str)
                    and (gateway_id is None or isinstance(gateway_id, str))
                    and (state is None or (isinstance(state, int) and not isinstance(state, bool)))
                    and (reason is None or isinstance(reason, str))
                ):
                    raise TypeError
            except JournalError:
                raise
            except (ValueError, KeyError, TypeError):
                raise JournalError(
                    f"{path} line {number}: not a held outcome (a JSON object with campaign,"
                    " key, outcome, id, state, reason, run)"
                ) from None
            records.append(Restored(key, int(outcome), gateway_id, state, reason, run))
    return records


def _selection(
    run: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    keys: Iterable[str] | None,
) -> Selection:
    """Check an operator's selection before anything is written."""
    if run is not None and (not isinstance(run, str) or not run):
        raise ValidationError("run", "must be a non-empty string (a run id or worker label)", run)
    bounds: list[int | None] = []
    for field, value in (("since", since), ("until", until)):
        if value is None:
            bounds.append(None)
        elif not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise ValidationError(field, "must be a datetime with a time zone", value)
        else:
            bounds.append(int(value.timestamp() * 1000))
    chosen: tuple[str, ...] | None = None
    if keys is not None:
        if isinstance(keys, str):
            raise ValidationError("keys", "must be a collection of keys, not one string", keys)
        chosen = tuple(keys)
        if not chosen or not all(isinstance(key, str) and key for key in chosen):
            raise ValidationError("keys", "must name at least one key, each a non-empty string")
    return Selection(run=run, since=bounds[0], until=bounds[1], keys=chosen)
