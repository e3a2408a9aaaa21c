"""Sending a campaign: claim a batch, send it as one request, commit each message's outcome.

A worker runs ``lanes`` loops side by side over one client. Each loop waits for the campaign's
next send slot (one shared clock in the journal, so ``rate_limit`` holds across every worker),
claims a batch (committed as ``sending`` with this worker's lease), sends it with
``client.send_many``, and commits what happened to each message. A heartbeat renews the lease of
every row this worker has in flight, so a slow answer is not mistaken for a dead worker.

What a failure means is decided by :func:`._rules.outcome_of_error`: provably not sent goes back
to ``pending``; anything that may have reached the gateway becomes ``unknown`` and is never sent
again without an operator's ``resolve``. A run that is cancelled while a request is in flight
records that batch as ``unknown`` on its way out; a run asked to stop (``stop`` set, as the
command does on Ctrl-C and SIGTERM) claims nothing more and lets its requests finish.

A batch's answers and the next claim are one journal transaction (``settle_and_claim``), and
lanes whose answers arrive while the journal is busy share it. A lane that sees the stop before
that write claims nothing with it. A batch claimed before the stop arrived is sent when the
campaign has no rate limit (nothing to wait for: it is as good as in flight), and given back as
``pending`` when its wait for a send slot sees the stop. Every
journal call runs in a worker thread, shielded: the event loop never waits for the journal, and
a cancellation waits for a write to end rather than cut it short.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import anyio.lowlevel
import anyio.to_thread

from .._client import MySMSClient
from .._exceptions import DeliveryUnknownError, MySMSError
from .._models import Message, SendResult
from ._rules import (
    COLD_START,
    DEFAULT_IDLE_POLL,
    JOURNAL_BACKOFF,
    MAX_RESLOTS,
    NOT_SENT_PAUSE,
    RATE_MARGIN,
    SLOT_TOLERANCE,
    JournalError,
    Outcome,
    describe_error,
    outcome_of_error,
    stops_the_run,
)
from ._store import Claimed, Settled, Store

T = TypeVar("T")
logger = logging.getLogger("mysms_async.campaigns")

EXPIRED = "lease expired while in flight: the request may have reached the gateway"
ABANDONED = "in flight when its worker stopped: the request may have reached the gateway"


def now_ms() -> int:
    return int(time.time() * 1000)


def default_label() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def new_run_id(label: str) -> str:
    """A run's identity: its worker label (the caller's ``worker_id``, else host and process)
    and a random part, so that a label reused after a crash is never the dead run's key."""
    return f"{label}/{uuid.uuid4().hex[:12]}"


def recover(store: Store, campaign: int, *, locked: bool = False) -> int:
    """Make what crashed workers left in flight ``unknown``; return how many rows moved.

    Rows whose lease ran out (on the journal's clock), and on SQLite, when no worker holds the
    campaign's run lock (``locked``: this caller holds it), every row in flight: the lock proves
    no worker is alive. ``status``, ``resolve`` and every run start call it, so an operator sees
    a crash's unknowns before deciding, without starting a run.
    """
    moved = store.expire(campaign, EXPIRED)
    if store.kind != "sqlite":
        return moved
    if not locked:
        try:
            store.lock_worker(campaign, "recover")
        except JournalError:
            return moved  # a worker is running: its rows in flight are its own
    try:
        moved += store.abandon(campaign, ABANDONED)
    finally:
        if not locked:
            store.unlock_worker(campaign)
    return moved


@dataclass
class RunSummary:
    """What one worker did: how many messages it settled, by outcome, and whether it was stopped."""

    worker: str
    requests: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    returned: int = 0
    stopped: bool = False
    #: Why the latest batch came back unsent (a gateway that cannot be reached, a 429), so the
    #: command can say it at once; ``None`` after a batch that was not sent back.
    not_sent: str | None = None


def _message(row: Claimed) -> Message:
    date = None if row.date is None else dt.datetime.fromisoformat(row.date)
    return Message(row.destination, row.text, sender=row.sender, date=date, ttl=row.ttl)


def classify(
    rows: Sequence[Claimed], results: Sequence[SendResult]
) -> tuple[list[Settled], list[int]]:
    """Each claimed row's outcome from its result; the ids that provably never left."""
    settled: list[Settled] = []
    back: list[int] = []
    for row, result in zip(rows, results, strict=True):
        if result.error is None:
            state = None if result.state is None else int(result.state)
            if state is not None and state >= 0 and result.id:
                settled.append(Settled(row.id, Outcome.ACCEPTED, result.id, state, None))
            else:
                settled.append(Settled(row.id, Outcome.REFUSED, None, state, None))
            continue
        outcome = outcome_of_error(result.error)
        if outcome is None:
            back.append(row.id)
        else:
            code = getattr(result.error, "state", None)  # a GatewayError's request state
            state = code if isinstance(code, int) and outcome is Outcome.FAILED else None
            settled.append(Settled(row.id, outcome, None, state, describe_error(result.error)))
    return settled, back


class Worker:
    def __init__(
        self,
        store: Store,
        campaign: int,
        client: MySMSClient,
        *,
        batch_size: int,
        lease: float,
        lanes: int,
        worker_id: str | None,
        stop: anyio.Event | None,
        on_batch: Callable[[RunSummary], None] | None,
        name: str = "",
        journal_retry: float = 120.0,
        fallback: str | None = None,
    ) -> None:
        self.store = store
        self.campaign = campaign
        self.name = name
        self.journal_retry = journal_retry
        self.fallback = fallback
        self._healthy = anyio.Event()
        self._healthy.set()
        self._faults = 0
        self._in_flight: set[int] = set()
        """Ids this worker has claimed and not yet settled (under ``_flight_lock``)."""
        self._flight_lock = threading.Lock()
        self._fallback_lock = threading.Lock()
        self.client = client
        # One claim is one HTTP request, so that one send slot paces one request: a GET carries
        # one message, a POST up to the client's batch size.
        self.batch_size = min(batch_size, request_size(client))
        self.lease = lease
        self.lanes = lanes
        self.stop = stop
        self.on_batch = on_batch
        self.label = worker_id or default_label()
        self.summary = RunSummary(new_run_id(self.label))
        self._lock = threading.Lock()
        self._limiter = anyio.CapacityLimiter(1)
        self._combine = anyio.Lock()
        self._turns: list[_Turn] = []
        """Lanes whose answers wait for the journal (see :meth:`_settle_and_claim`)."""
        self.worker = self.summary.worker

    async def _db(self, call: Callable[..., T], *args: Any) -> T:
        """A journal call in a worker thread, one at a time: the event loop never waits for the
        journal and keeps serving the other lanes' requests while a commit waits for the disk.
        Shielded: a cancellation waits for the call to end, so no write is cut in half (and the
        outcome of a cancelled request is written on the way out)."""

        def locked() -> T:
            with self._lock:
                return call(*args)

        with anyio.CancelScope(shield=True):
            result = await anyio.to_thread.run_sync(locked, limiter=self._limiter)
        return result

    def _stopping(self) -> bool:
        return self._failure is not None or (self.stop is not None and self.stop.is_set())

    _failure: BaseException | None = None

    def _fail(self, error: BaseException) -> None:
        """Remember the first error that stops the run; the other lanes finish what is in
        flight and claim nothing more. Raised alone, not inside an exception group."""
        if self._failure is None:
            self._failure = error
        self._healthy.set()  # a lane waiting for the journal to come back sees the stop

    async def run(self) -> RunSummary:
        store = self.store
        single = store.kind == "sqlite"
        if single:
            await self._db(store.lock_worker, self.campaign, self.worker)
        try:
            if not single:
                # An earlier run of this label is dead (a label runs once at a time): its rows
                # in flight are unknown now, without waiting for their leases.
                await self._db(self._abandon_earlier)
            await self._db(functools.partial(recover, store, self.campaign, locked=single))
            async with anyio.create_task_group() as heartbeat:
                heartbeat.start_soon(self._heartbeat)
                try:
                    async with anyio.create_task_group() as lanes:
                        for _ in range(self.lanes):
                            lanes.start_soon(self._lane)
                finally:
                    heartbeat.cancel_scope.cancel()
        finally:
            if single:
                await self._db(store.unlock_worker, self.campaign)
        if self._failure is not None:
            raise self._failure
        self.summary.stopped = self._stopping()
        return self.summary

    def _abandon_earlier(self) -> int:
        return self.store.abandon(self.campaign, ABANDONED, label=self.label, keep=self.worker)

    async def _heartbeat(self) -> None:
        while True:
            await anyio.sleep(self.lease / 3)
            try:
                await self._db(self.store.renew, self.campaign, self.worker, self.lease)
            except Exception as error:
                if not self.store.transient(error):  # the journal is unusable: stop claiming
                    self._fail(error)
                    return
                # A fault that may pass: the lanes' own retries reconnect; renew next beat.

    async def _call(
        self,
        call: Callable[..., T],
        *args: Any,
        held: Sequence[Settled] = (),
        rows: Sequence[Claimed] = (),
    ) -> T:
        """A journal call, retried across transient faults (a lost connection, a restarted
        server, a held lock) with bounded backoff, reconnecting between tries; while one is
        retried no lane claims anything new. ``held``: the outcomes this call commits (answers
        already received); if the journal stays unusable past the retry budget they are written
        to the fallback file, and the run stops with a :class:`JournalError` naming it."""
        deadline = anyio.current_time() + self.journal_retry
        pause, longest = JOURNAL_BACKOFF
        tries = 0
        while True:
            try:
                result = await self._db(call, *args)
            except Exception as error:
                if not self.store.transient(error):
                    if held and isinstance(error, JournalError):  # a full disk: no retry mends it
                        raise self._give_up(error, held, rows, retried=False) from None
                    raise
                tries += 1
                self._faults += 1
                if self._healthy.is_set():
                    self._healthy = anyio.Event()
                if anyio.current_time() + pause > deadline:
                    raise self._give_up(error, held, rows) from None
                logger.warning(
                    "journal %s failed (%s); try %d again in %.2f s, %d answers held",
                    getattr(call, "__name__", "call"),
                    _fault(error),
                    tries,
                    pause,
                    len(held),
                )
                await anyio.sleep(pause)
                pause = min(pause * 2, longest)
                try:
                    await self._db(self.store.reconnect)
                except Exception as again:
                    if not self.store.transient(again):
                        raise
                continue
            if tries:
                logger.warning("journal %s succeeded after %d tries", call.__name__, tries + 1)
            self._healthy.set()
            return result

    def _give_up(
        self,
        error: BaseException,
        held: Sequence[Settled],
        rows: Sequence[Claimed],
        *,
        retried: bool = True,
    ) -> JournalError:
        problem = (
            f"the journal stayed unusable for {self.journal_retry:g} s ({_fault(error)})"
            if retried
            else str(error)
        )
        if not held:
            return JournalError(problem)
        keys = {row.id: row.key for row in rows}
        path = self.fallback or os.path.abspath(
            f"mysms-held-{_safe(self.name)}-{_safe(self.worker)}.jsonl"
        )
        with self._fallback_lock, open(path, "a", encoding="utf-8") as stream:
            for item in held:
                record = {
                    "campaign": self.name,
                    "key": keys[item.id],
                    "outcome": Outcome(item.outcome).label,
                    "id": item.gateway_id,
                    "state": item.state,
                    "reason": item.reason,
                    "run": self.worker,
                }
                stream.write(json.dumps(record, ensure_ascii=False) + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        return JournalError(
            f"{problem}: the outcomes of {len(held)} messages this worker holds were written to"
            f" {path}; put them back with: mysms campaign resolve {self.name} --import {path}"
            " (before another run)"
        )

    async def _wait_for_slot(self, first: bool) -> bool:
        """Wait for the campaign's next send slot (one pace for all workers, on the journal's
        clock, at the rate the journal holds *now*); ``False`` if asked to stop meanwhile.

        The slot is taken after the claim, right before the request, so that nothing slow sits
        between the two; a lane that wakes late (a busy machine) takes a new slot rather than
        crowd the requests of the next second. A lane's ``first`` request keeps
        :data:`COLD_START` free after it, for the connection it opens.
        """
        for _ in range(MAX_RESLOTS):
            slot = await self._db(
                self.store.next_slot, self.campaign, RATE_MARGIN, COLD_START if first else 0.0
            )
            if slot is None:  # no rate limit, for now
                # A cancellation that came while the journal was busy is seen here, while the
                # batch can still go back as provably not sent. A stop is not: with no slot to
                # wait for, a claimed batch goes out at once (the journal shows it ``sending``
                # from its claim on) and the stop ends the run after its answer.
                await anyio.lowlevel.checkpoint_if_cancelled()
                return True
            delay, interval = slot
            target = anyio.current_time() + delay
            if delay > 0:
                await anyio.sleep(delay)
            if self._stopping():
                return False
            if anyio.current_time() - target <= interval * SLOT_TOLERANCE:
                break
        return True

    async def _lane(self) -> None:
        try:
            await self._claim_and_send()
        except Exception as error:
            self._fail(error)

    async def _claim_and_send(self) -> None:
        """Claim, wait for the slot, send, write the answers; the answers and the next claim go
        to the journal together (:meth:`_settle_and_claim`), so a batch costs one commit."""
        store = self.store
        first = True
        rows: list[Claimed] = []
        while True:
            if not rows:
                if self._stopping():
                    return
                await self._healthy.wait()  # claim nothing while a held answer waits
                if self._stopping():
                    return
                rows = await self._claim()
                if not rows:
                    await self._call(store.expire, self.campaign, EXPIRED)
                    pending, sending = await self._call(store.remaining, self.campaign)
                    if pending == 0 and sending == 0:
                        return
                    await anyio.sleep(DEFAULT_IDLE_POLL)
                    continue
            messages = [_message(row) for row in rows]  # before the slot, not after it
            unsent = _all(rows, Outcome.PENDING, None)
            try:
                go = await self._wait_for_slot(first)
                first = False
            except anyio.get_cancelled_exc_class():
                # nothing was written yet: provably not sent (shielded: done before going on)
                await self._db(store.release, self.worker, [row.id for row in rows])
                raise
            except Exception as error:
                if not store.transient(error):
                    raise
                go = None  # no slot from the journal: give the batch back, then go on
            if not go:
                ids = [row.id for row in rows]
                await self._call(store.release, self.worker, ids, held=unsent, rows=rows)
                self._done_with(rows)
                rows = []
                if go is None:
                    continue
                return
            back, rows = await self._send(rows, messages)
            if back:
                await anyio.sleep(NOT_SENT_PAUSE)

    async def _claim(self) -> list[Claimed]:
        """Claim a batch. A claim retried after a fault may have committed once already (the
        answer lost with the connection): those rows, ``sending`` under this run but never
        sent, go back to ``pending``, or this worker would renew them and wait for them forever.
        A claim adds its rows to the set in flight inside the same journal call (one at a time),
        so no lane's fresh claim can be taken for a stray."""
        store = self.store
        faults = self._faults

        def claim() -> list[Claimed]:
            rows = store.claim(self.campaign, self.worker, self.batch_size, self.lease)
            with self._flight_lock:
                self._in_flight.update(row.id for row in rows)
            return rows

        def release_stray() -> int:
            with self._flight_lock:
                keep = sorted(self._in_flight)
            return store.release_stray(self.campaign, self.worker, keep)

        rows = await self._call(claim)
        if self._faults != faults:
            await self._call(release_stray)
        return rows

    def _done_with(self, rows: Sequence[Claimed]) -> None:
        with self._flight_lock:
            self._in_flight.difference_update(row.id for row in rows)

    async def _send(
        self, rows: list[Claimed], messages: list[Message]
    ) -> tuple[int, list[Claimed]]:
        """Send one claimed batch and commit each message's outcome: how many went back, and
        the next batch, claimed in the same transaction when the run goes on."""
        store = self.store
        self.summary.requests += 1
        stop_with: BaseException | None = None
        try:
            results = await self.client.send_many(messages)
        except anyio.get_cancelled_exc_class():
            # The request may be on the wire: say so before the cancellation goes on (the
            # journal call is shielded, so the cancellation waits for it).
            await self._db(
                store.settle, self.worker, _all(rows, Outcome.UNKNOWN, ABANDONED), now_ms()
            )
            raise
        except Exception as error:
            if stops_the_run(error):
                stop_with = error
            partial = getattr(error, "results", None)
            if isinstance(partial, list) and len(partial) == len(rows):
                results = partial
            else:
                results = [
                    SendResult(m, None, None, error=_as_library_error(error)) for m in messages
                ]
        settled, back = classify(rows, results)
        if stop_with is None:
            stop_with = next((r.error for r in results if r.error and stops_the_run(r.error)), None)
        unsent = [Settled(i, Outcome.PENDING, None, None, None) for i in back]
        following: list[Claimed] = []
        if back or stop_with is not None:
            # The uncommon path: answers and what goes back, each in its own transaction.
            if settled:
                await self._call(
                    store.settle,
                    self.worker,
                    settled,
                    now_ms(),
                    held=[*settled, *unsent],
                    rows=rows,
                )
            if back:
                await self._call(store.release, self.worker, back, held=unsent, rows=rows)
                self.summary.returned += len(back)
            self._done_with(rows)
        else:
            following = await self._settle_and_claim(settled, rows)
        unsent_errors = (r.error for r in results if r.error and outcome_of_error(r.error) is None)
        self.summary.not_sent = next((describe_error(e) for e in unsent_errors), None)
        for item in settled:
            self.summary.outcomes[Outcome(item.outcome).label] += 1
        if self.on_batch is not None:
            self.on_batch(self.summary)
        if stop_with is not None:
            raise stop_with
        return len(back), following

    async def _settle_and_claim(self, settled: list[Settled], rows: list[Claimed]) -> list[Claimed]:
        """Write a batch's answers and claim the next batch in one journal transaction.

        Lanes whose answers arrive while the journal is busy are combined: the first lane to get
        the journal writes every waiting lane's answers and claims for each of them, in one
        transaction (one commit, one ``fsync`` on SQLite, for all). A lane that is stopping, or
        whose worker waits for the journal to come back, claims nothing (``limit`` 0).
        """
        turn = _Turn(settled, rows)
        self._turns.append(turn)
        # Waiting for the lane ahead is waiting for its journal call, which is shielded anyway.
        with anyio.CancelScope(shield=True):
            await self._combine.acquire()
        try:
            if not turn.done:
                turns, self._turns = self._turns, []
                await self._write_turns(turns)
        finally:
            self._combine.release()
        if turn.error is not None:
            raise turn.error
        return turn.claimed

    async def _write_turns(self, turns: list[_Turn]) -> None:
        store = self.store
        settled = [item for turn in turns for item in turn.settled]
        rows = [row for turn in turns for row in turn.rows]
        claiming = [turn for turn in turns if not self._stopping() and self._healthy.is_set()]
        faults = self._faults

        def settle_and_claim() -> list[list[Claimed]]:
            claimed = store.settle_and_claim(
                self.worker,
                settled,
                now_ms(),
                self.campaign,
                self.batch_size,
                self.lease,
                len(claiming),
            )
            with self._flight_lock:
                self._in_flight.difference_update(row.id for row in rows)
                self._in_flight.update(row.id for batch in claimed for row in batch)
            return claimed

        try:
            claimed = await self._call(settle_and_claim, held=settled, rows=rows)
            if self._faults != faults:
                await self._call(self._release_stray)
        except BaseException as error:
            for turn in turns:
                turn.done = True
                if isinstance(error, Exception):
                    turn.error = error
            raise
        for turn, batch in zip(claiming, claimed, strict=True):
            turn.claimed = batch
        for turn in turns:
            turn.done = True

    def _release_stray(self) -> int:
        with self._flight_lock:
            keep = sorted(self._in_flight)
        return self.store.release_stray(self.campaign, self.worker, keep)


@dataclass
class _Turn:
    """One lane's answers waiting for the journal, and the batch claimed for it in return."""

    settled: list[Settled]
    rows: list[Claimed]
    done: bool = False
    claimed: list[Claimed] = field(default_factory=list)
    error: Exception | None = None


def request_size(client: MySMSClient) -> int:
    """How many messages the client puts in one HTTP request (1 for GET)."""
    size = getattr(getattr(client, "_ops", None), "chunk_size", None)
    return size if isinstance(size, int) and size >= 1 else 1


def _as_library_error(error: Exception) -> MySMSError:
    """A failure that is not one of ours (a bug below us) may have reached the gateway."""
    if isinstance(error, MySMSError):
        return error
    return DeliveryUnknownError(
        f"sending failed unexpectedly ({type(error).__name__}); the request may have reached"
        " the gateway",
        messages=(),
    )


def _fault(error: BaseException) -> str:
    """A journal fault in one line: the driver's first line, which names no password (a
    connection's password never reaches a statement's error)."""
    first = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {first}"[:300]


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:80]


def _all(rows: Sequence[Claimed], outcome: Outcome, reason: str | None) -> list[Settled]:
    return [Settled(row.id, outcome, None, None, reason) for row in rows]
