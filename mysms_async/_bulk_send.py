"""The sending pipeline: batched, concurrent sends where every message gets exactly one outcome.

Input is read lazily, one chunk at a time (``batch_size`` messages for POST, one for GET). A
pool of up to ``max_concurrency`` long-lived workers sends the chunks, started as chunks come
(at most one per chunk of a list or tuple, one more for an input of unknown length), so the
setting alone costs nothing; a chunk is read only when a worker is free to take it, so at most
one chunk waits read but unsent. Every message read gets an outcome, whatever stops the run:

* an invalid or unbuildable message fails on its own; its chunk-mates are still sent;
* a request that fails gives its error to its chunk's messages; the run goes on;
* ``AuthError``, ``ClientClosedError`` and ``WrongEventLoopError`` stop the run (every later
  request would fail the same way), and so does an error raised by the caller's input (wrapped
  in ``InputError`` unless it is ours): nothing more is read, the requests in flight finish, and
  the error is raised with ``.results``;
* a ``BaseException`` from the caller's input that is not cancellation (``KeyboardInterrupt``,
  ``SystemExit``, their own) stops the reading the same way and is re-raised as itself, never
  in a group (``send_many``: with ``.results`` where it takes the attribute, and a WARNING);
* on cancellation, a request in flight is ``DeliveryUnknownError`` and one not yet started is
  "not sent"; whatever the caller can no longer be handed is logged as a WARNING: the counts,
  the first ``MAX_LOGGED_OUTCOMES`` ids and destinations, and where the rest are.

``send_many`` (here) runs the pipeline to the end inside one task group; the streaming forms
(``stream_send``, ``iter_send``) are in ``_streams``. Status and polling are in ``_bulk_status``.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator

import anyio
import anyio.abc

from . import _constants as C
from ._exceptions import DeliveryUnknownError, InputError, MySMSError, ValidationError
from ._models import Message, SendResult
from ._operations import Chunk, Operations

logger = logging.getLogger(C.LOGGER_NAME)

Messages = Iterable[Message] | AsyncIterable[Message]


def check_iterable(name: str, value: object) -> None:
    """A bare ``str`` or ``bytes`` is an iterable of characters, never what the caller meant."""
    if isinstance(value, str | bytes | bytearray | memoryview):
        raise ValidationError(name, f"must be an iterable, not a single {type(value).__name__}")
    if not isinstance(value, Iterable | AsyncIterable):
        raise ValidationError(name, "must be an iterable or async iterable", value)


def _input_error(exc: Exception) -> MySMSError:
    if isinstance(exc, MySMSError):
        return exc
    error = InputError(f"reading the messages failed: {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


def _interrupted(exc: BaseException) -> BaseException:
    """The caller's input raised a ``BaseException`` (``KeyboardInterrupt``, ``SystemExit``, one
    of their own): kept to be re-raised as itself once the run has settled. Cancellation is not
    the input's doing: it propagates at once."""
    if isinstance(exc, anyio.get_cancelled_exc_class()):
        raise exc
    return exc


def attach_results(error: BaseException, results: list[SendResult]) -> bool:
    """``error.results = results`` where the exception allows it (a class with its own
    ``__setattr__`` may refuse); True when it took it."""
    try:
        error.results = results  # type: ignore[attr-defined]
    except Exception:
        return False
    return getattr(error, "results", None) is results


class Reader:
    """The caller's messages, read one chunk at a time; an error of theirs ends the reading."""

    __slots__ = ("_async", "_left", "_sync", "exhausted", "is_sync", "size")

    def __init__(self, messages: Messages, size: int) -> None:
        self.size = size
        self.exhausted = False
        self._sync: Iterator[Message] | None = None
        self._async: AsyncIterator[Message] | None = None
        #: Messages not yet read, when the input is a list or tuple (its length is known).
        self._left: int | None = None
        if isinstance(messages, AsyncIterable):
            self._async = messages.__aiter__()
        else:
            if isinstance(messages, list | tuple):
                self._left = len(messages)
            self._sync = iter(messages)
        self.is_sync = self._sync is not None

    def chunks_left(self) -> int | None:
        """How many chunks remain to be read, when that is known (a list or tuple)."""
        if self.exhausted:
            return 0
        if self._left is None:
            return None
        return -(-max(self._left, 0) // self.size)

    def _count(self, batch: list[Message]) -> None:
        if self._left is not None:
            self._left -= len(batch)

    def read_sync(self) -> tuple[list[Message], BaseException | None]:
        """``read`` for a plain iterable: no await, so nothing can interleave with it."""
        if self.exhausted:
            return [], None
        batch: list[Message] = []
        try:
            assert self._sync is not None
            batch.extend(itertools.islice(self._sync, self.size))  # keeps what came before
        except Exception as exc:
            self.exhausted = True
            return batch, _input_error(exc)
        except BaseException as exc:
            self.exhausted = True
            return batch, _interrupted(exc)
        self._count(batch)
        if len(batch) < self.size:
            self.exhausted = True
        return batch, None

    async def read(self) -> tuple[list[Message], BaseException | None]:
        """The next chunk (short at the end), and the input's error if reading failed."""
        batch: list[Message] = []
        try:
            if self._sync is not None:
                batch.extend(itertools.islice(self._sync, self.size))  # keeps what came before
            else:
                assert self._async is not None
                anext_message = self._async.__anext__
                while len(batch) < self.size:
                    try:
                        batch.append(await anext_message())
                    except StopAsyncIteration:
                        break
        except Exception as exc:
            self.exhausted = True
            return batch, _input_error(exc)
        except BaseException as exc:
            self.exhausted = True
            return batch, _interrupted(exc)
        self._count(batch)
        if len(batch) < self.size:
            self.exhausted = True
        return batch, None


class _Pending:
    """One chunk read, with its outcomes once known."""

    __slots__ = ("_done", "chunk", "results", "started")

    def __init__(self, chunk: Chunk) -> None:
        self.chunk = chunk
        self.results: list[SendResult] | None = None
        self.started = False
        self._done: anyio.Event | None = None  # made only when someone waits

    def finish(self, results: list[SendResult]) -> None:
        self.results = results
        if self._done is not None:
            self._done.set()

    async def wait(self) -> list[SendResult]:
        if self.results is None:
            if self._done is None:
                self._done = anyio.Event()
            await self._done.wait()
        assert self.results is not None
        return self.results


class Pipeline:
    """Up to ``max_concurrency`` long-lived workers; each reads the next chunk when it is free.

    Reading is serialised by a lock, so chunks join ``queue`` in input order; a worker reads only
    when it can send at once, so at most ``max_concurrency`` chunks are read and unanswered (plus
    those answered and not yet consumed, which ``window`` bounds for a stream). Workers are
    started as the chunks come: one at first, and one more each time a worker takes a chunk to
    send while the input may hold another, never more than ``max_concurrency``. So a run starts
    at most as many workers as it has chunks when the input is a list or tuple, and at most one
    more for any other iterable (that one finds the input ended and reads nothing), whatever
    ``max_concurrency`` is.
    """

    def __init__(self, ops: Operations, reader: Reader, *, window: int | None) -> None:
        self._ops = ops
        self._reader = reader
        #: Read and not yet taken by the consumer, in input order.
        self.queue: deque[_Pending] = deque()
        #: What stopped the run from the requests' side (``STOP_ERRORS``): workers send no more.
        self.stop: MySMSError | None = None
        #: What stopped the reading from the input's side: the chunks already read still go.
        self.input_error: MySMSError | None = None
        #: A ``BaseException`` (not cancellation) the caller's input raised: re-raised as itself.
        self.interrupt: BaseException | None = None
        self._workers = 0
        self._max_workers = 0
        self._started = 0
        self._group: anyio.abc.TaskGroup | None = None
        self._read = 0
        self._limit: int | None = None
        self._lock: anyio.Lock | None = None
        self._reading: set[anyio.CancelScope] = set()
        self._stop_reading = False
        self._waiter: anyio.Event | None = None
        self._window = None if window is None else anyio.Semaphore(window)

    def start(self, group: anyio.abc.TaskGroup, *, limit: int | None = None) -> None:
        """Start the first worker; ``limit`` caps the chunks this run reads (a wave)."""
        workers = self._ops.settings.max_concurrency
        if limit is not None:
            workers = min(workers, limit)
        chunks = self._reader.chunks_left()
        if chunks is not None:  # a list or tuple: one worker per chunk at most
            workers = min(workers, chunks)
            if not chunks:
                self._reader.exhausted = True  # nothing to read: the run ends at once
        self._limit = limit
        self._lock = anyio.Lock()
        self._group = group
        self._max_workers = workers
        if workers:
            self._spawn()

    def _spawn(self) -> None:
        assert self._group is not None
        self._workers += 1
        self._started += 1
        self._group.start_soon(self._work)

    def stop_reading(self) -> None:
        """Read nothing more: a read waiting for the caller's input is cancelled, and a worker
        waiting for room in the window is let through (it then sees that reading is over)."""
        self._stop_reading = True
        for scope in self._reading:
            scope.cancel()
        if self._window is not None:
            for _ in range(self._workers):  # no more can be waiting for room
                self._window.release()

    def _wake(self) -> None:
        if self._waiter is not None:
            self._waiter.set()
            self._waiter = None

    def _may_read(self) -> bool:
        return not (
            self._stop_reading
            or self.stop is not None
            or self.input_error is not None
            or self.interrupt is not None
            or self._reader.exhausted
            or (self._limit is not None and self._read >= self._limit)
        )

    async def _read_one(self) -> _Pending | None:
        """The next chunk, queued in input order; None when reading is over."""
        if not self._may_read():
            return None
        if self._window is not None:
            await self._window.acquire()
        if self._reader.is_sync:
            # No await between the check, the read and the queueing: chunks join the queue in
            # input order without a lock, and there is no read to cancel.
            if not self._may_read():
                return self._take([], None)
            return self._take(*self._reader.read_sync())
        assert self._lock is not None
        async with self._lock:
            if not self._may_read():
                return self._take([], None)
            with anyio.CancelScope() as scope:
                self._reading.add(scope)
                try:
                    messages, error = await self._reader.read()
                finally:
                    self._reading.discard(scope)
            if scope.cancelled_caught:
                return self._take([], None)
            return self._take(messages, error)

    def _take(self, messages: list[Message], error: BaseException | None) -> _Pending | None:
        failure = None if error is None else self._input_failed(error)
        if not messages or self._stop_reading or self.stop is not None:
            if self._window is not None:
                self._window.release()
            if messages:  # read after the run stopped: never sent
                pending = _Pending(Chunk(messages))
                self.queue.append(pending)
                pending.finish(pending.chunk.fail_all(self.stop or MySMSError("not sent")))
            return None
        self._read += 1
        pending = _Pending(self._ops.prepare_chunk(messages))
        self.queue.append(pending)
        self._wake()
        if failure is not None:  # not sent: the input failed inside this chunk
            pending.finish(pending.chunk.fail_all(failure))
        return pending

    def _input_failed(self, error: BaseException) -> MySMSError:
        """Record what the input raised; the error the messages read with it are given."""
        if isinstance(error, MySMSError):
            self.input_error = error
            return error
        self.interrupt = error
        return InputError(
            f"not sent: reading the messages was interrupted by {type(error).__name__}"
        )

    async def _work(self) -> None:
        ops = self._ops
        try:
            while (pending := await self._read_one()) is not None:
                if pending.results is not None:
                    continue
                chunk = pending.chunk
                if not chunk.wires:
                    pending.finish(chunk.merge([]))
                    continue
                if self.stop is not None:  # read, but the run stopped: not sent
                    pending.finish(chunk.fail_all(self.stop))
                    continue
                pending.started = True
                if self._started < self._max_workers and self._may_read():
                    self._spawn()  # the input may hold another chunk: someone to read it
                results, stop = await ops.send_chunk(chunk)
                pending.finish(results)
                if stop is not None and self.stop is None:
                    self.stop = stop
        finally:
            self._workers -= 1
            if not self._workers:
                self._wake()

    async def next_results(self) -> list[SendResult] | None:
        """The next chunk's outcomes in input order, once known; None at the end."""
        queue = self.queue
        while not queue:
            if not self._workers:
                return None
            self._waiter = waiter = anyio.Event()
            await waiter.wait()
        results = await queue[0].wait()
        queue.popleft()
        if self._window is not None:
            self._window.release()
        return results

    def settle(self) -> None:
        """After cancellation: outcomes for the chunks that never finished."""
        for pending in self.queue:
            if pending.results is not None:
                continue
            chunk = pending.chunk
            if pending.started:
                unknown = DeliveryUnknownError(
                    f"the run was cancelled while {len(chunk.valid)} message(s) were in flight:"
                    " the gateway may have accepted them; not resent, to avoid a duplicate SMS",
                    messages=chunk.valid,
                )
                pending.results = chunk.merge(
                    [SendResult(m, None, None, unknown) for m in chunk.valid]
                )
            else:
                pending.results = chunk.fail_all(
                    MySMSError("not sent: the run stopped before this message's request started")
                )

    @property
    def error(self) -> BaseException | None:
        """What the run ends with, if anything: the caller's own ``BaseException`` first."""
        return self.interrupt or self.stop or self.input_error

    def outcomes(self) -> list[SendResult]:
        return [result for pending in self.queue for result in pending.results or ()]


def report_not_handed_over(results: list[SendResult], why: str, where: str) -> None:
    """A WARNING with the counts of accepted messages and of messages of unknown delivery, the
    first ``MAX_LOGGED_OUTCOMES`` ids and destinations of each, and ``where`` the full outcomes
    are (or that they are nowhere else): nothing that may have been sent vanishes silently, and
    a run of any size logs one line of bounded length."""
    accepted = [r.id for r in results if r.ok and r.id is not None]
    unknown = [r.message for r in results if isinstance(r.error, DeliveryUnknownError)]
    if not accepted and not unknown:
        return
    logger.warning(
        "%s: %d outcome(s) were not handed over: %d accepted (ids: %s), %d of unknown delivery"
        " (to: %s), %d not sent or refused; %s",
        why,
        len(results),
        len(accepted),
        _first(accepted),
        len(unknown),
        _first([str(m.destination) for m in unknown]),
        len(results) - len(accepted) - len(unknown),
        where,
    )


def _first(items: list[str]) -> str:
    """At most ``MAX_LOGGED_OUTCOMES`` of ``items``, and how many more there are."""
    if not items:
        return "none"
    shown = ", ".join(items[: C.MAX_LOGGED_OUTCOMES])
    more = len(items) - C.MAX_LOGGED_OUTCOMES
    return f"{shown} and {more} more" if more > 0 else shown


async def send_many(ops: Operations, messages: Messages) -> list[SendResult]:
    """The whole run inside one task group: one outcome per message read, in input order."""
    pipeline = Pipeline(ops, Reader(messages, ops.chunk_size), window=None)
    try:
        async with anyio.create_task_group() as group:
            pipeline.start(group)
    except anyio.get_cancelled_exc_class():
        pipeline.settle()
        report_not_handed_over(
            pipeline.outcomes(),
            "send_many was cancelled",
            "a cancelled send_many returns nothing, so this line is all that is kept of them",
        )
        raise
    results = pipeline.outcomes()
    interrupt = pipeline.interrupt
    if interrupt is not None:
        name = type(interrupt).__name__
        if attach_results(interrupt, results):
            where = f"the full outcomes are in the {name}'s .results"
        else:
            where = f"they could not be attached to the {name}: this line is all that is kept"
        report_not_handed_over(results, f"send_many was interrupted by {name}", where)
        raise interrupt
    error = pipeline.stop or pipeline.input_error
    if error is not None:
        error.results = results
        raise error
    return results
