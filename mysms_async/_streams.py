"""The streaming forms of the sending pipeline: results handed over one at a time, in input order.

Both forms hand over the same way (``_Handover``: the outcomes of one chunk at a time, the
error that ended the run raised after the last of them, and whatever was not handed over kept
in ``leftover``); they differ only in where the outcomes come from.

``stream_send`` (``SendStream``) is an async context manager that owns the task group (anyio
forbids a task group open across a ``yield``), so requests stay in flight continuously while the
caller consumes results; the reading runs at most ``STREAM_WINDOW`` times ``max_concurrency``
chunks ahead of the consumer, which bounds memory. ``iter_send`` (``ResultIterator``) is the
same hand-over without the ``async with``: an async-generator object (a class, not a native
generator, so nothing is left for a garbage collector to finalise under trio) that runs the
pipeline in waves of ``max_concurrency`` chunks with the task group closed before each result
is handed over.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from types import TracebackType
from typing import Any

import anyio
import anyio.abc

from ._bulk_send import Messages, Pipeline, Reader, attach_results, report_not_handed_over
from ._exceptions import MySMSError
from ._models import SendResult
from ._operations import Operations

#: stream_send reads at most this many times max_concurrency chunks ahead of its consumer: one
#: slow request at the head of the line does not starve the others of work.
STREAM_WINDOW = 2


class _Handover:
    """The one buffering both streaming forms share: a chunk's outcomes handed over one at a
    time, then the next chunk's; at the end, the error that stopped the run, if any."""

    def __init__(self) -> None:
        self._current: list[SendResult] = []
        self._index = 0
        self._ended = False
        #: Outcomes produced but not handed over, once the consumer left early.
        self.leftover: list[SendResult] = []

    async def _next_results(self) -> list[SendResult] | None:
        """The next chunk's outcomes (perhaps none), or None when the run is over."""
        raise NotImplementedError

    def _take_error(self) -> BaseException | None:
        """What the run ended with, to raise after the last outcome (taken once)."""
        raise NotImplementedError

    async def _next(self) -> SendResult:
        if self._index < len(self._current):
            result = self._current[self._index]
            self._index += 1
            return result
        while not self._ended:
            results = await self._next_results()
            if results is None:
                self._ended = True
                stop = self._take_error()
                if stop is not None:
                    attach_results(stop, [])  # every outcome was handed over before it
                    raise stop
                break
            if results:
                self._current, self._index = results, 1
                return results[0]
        raise StopAsyncIteration

    def _not_handed_over(self) -> list[SendResult]:
        """The outcomes read into the buffer and not handed over; the buffer is emptied."""
        rest = self._current[self._index :]
        self._current, self._index = [], 0
        return rest


class SendStream(_Handover):
    """``async with client.stream_send(messages) as results: async for result in results:``.

    The context manager owns the task group, so requests stay in flight while results stream
    out in input order. Leaving the block early stops the reading, lets the requests in flight
    finish (so their outcomes are real, not unknown), and keeps every outcome not handed over in
    ``leftover`` (with a WARNING listing the accepted ids). Cancelled from outside, the requests
    in flight are ``DeliveryUnknownError`` in ``leftover``.
    """

    #: Outcomes produced but not handed over, once the consumer left early.
    leftover: list[SendResult]

    def __init__(self, ops: Operations, messages: Messages) -> None:
        super().__init__()
        window = STREAM_WINDOW * ops.settings.max_concurrency
        self._pipeline = Pipeline(ops, Reader(messages, ops.chunk_size), window=window)
        self._group: anyio.abc.TaskGroup | None = None
        self._raised = False

    async def __aenter__(self) -> SendStream:
        if self._group is not None:
            raise RuntimeError("a SendStream can be entered once")
        group = anyio.create_task_group()
        await group.__aenter__()
        self._group = group
        self._pipeline.start(group)
        return self

    def __aiter__(self) -> SendStream:
        return self

    async def __anext__(self) -> SendResult:
        if self._index >= len(self._current) and self._group is None:
            raise RuntimeError("use stream_send() with `async with`")
        return await self._next()

    async def _next_results(self) -> list[SendResult] | None:
        return await self._pipeline.next_results()

    def _take_error(self) -> BaseException | None:
        stop = self._pipeline.error
        if stop is not None:
            self._raised = True
        return stop

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        group, pipeline = self._group, self._pipeline
        assert group is not None
        pipeline.stop_reading()
        if isinstance(exc, anyio.get_cancelled_exc_class()):
            group.cancel_scope.cancel()
        try:
            # Never hand the body's exception to the task group: it would cancel the requests
            # in flight (and wrap the exception in a group). They finish, then it propagates.
            await group.__aexit__(None, None, None)
        finally:
            pipeline.settle()
            self.leftover = self._not_handed_over() + pipeline.outcomes()
            report_not_handed_over(
                self.leftover,
                "stream_send left early",
                "the full outcomes are in the stream's .leftover",
            )
        interrupt = pipeline.interrupt
        if (
            interrupt is not None
            and not self._raised
            and exc is not interrupt
            and not isinstance(exc, anyio.get_cancelled_exc_class())  # never replace a cancel
        ):
            # The input raised (KeyboardInterrupt, SystemExit, ...) and the block was left
            # before the stream got to raise it: never swallowed. Its outcomes are in leftover.
            attach_results(interrupt, [])
            raise interrupt
        return False


class ResultIterator(_Handover, AsyncGenerator[SendResult, None]):
    """What ``iter_send`` returns: an async generator object, in waves of ``max_concurrency``.

    Safe to break out of: between two results nothing runs. Outcomes produced but not handed
    over when it is closed (``aclose()``, or garbage collection after a ``break``) are kept in
    ``leftover`` and logged as a WARNING listing the accepted ids.
    """

    #: Outcomes produced but not handed over when it was closed.
    leftover: list[SendResult]

    def __init__(self, ops: Operations, messages: Messages) -> None:
        super().__init__()
        self._ops = ops
        self._reader = Reader(messages, ops.chunk_size)
        self._stop: BaseException | None = None

    def __aiter__(self) -> ResultIterator:
        return self

    async def __anext__(self) -> SendResult:
        return await self._next()

    async def _next_results(self) -> list[SendResult] | None:
        if self._stop is not None or self._reader.exhausted:
            return None
        pipeline = Pipeline(self._ops, self._reader, window=None)
        try:
            async with anyio.create_task_group() as group:
                pipeline.start(group, limit=self._ops.settings.max_concurrency)
        finally:
            pipeline.settle()  # cancelled: the outcomes wait here for the next call
            self._current, self._index = pipeline.outcomes(), 0
            self._stop = pipeline.error
        return self._not_handed_over()

    def _take_error(self) -> BaseException | None:
        stop, self._stop = self._stop, None
        return stop

    async def asend(self, value: None) -> SendResult:
        """The next outcome (``value`` must be ``None``); ``StopAsyncIteration`` at the end, or
        the error that ended the run once every outcome before it was handed over."""
        return await self.__anext__()

    async def athrow(
        self,
        typ: Any,
        val: Any = None,
        tb: TracebackType | None = None,
    ) -> SendResult:
        """Close the iterator (outcomes not handed over go to ``leftover``), then raise the
        given exception."""
        self._close()
        if val is None:
            raise typ
        raise val

    async def aclose(self) -> None:
        """Stop: outcomes produced but not handed over go to ``leftover`` (and a WARNING).

        Raises the ``BaseException`` the input raised (``KeyboardInterrupt``, ...) if the
        iterator was left before it could raise it: such an exception is never swallowed.
        """
        self._close()
        stop = self._stop
        if stop is not None and not isinstance(stop, MySMSError):
            # The input raised (KeyboardInterrupt, SystemExit, ...) and the loop was left
            # before the iterator got to raise it: never swallowed. Its outcomes are in leftover.
            self._stop = None
            attach_results(stop, [])
            raise stop

    def _close(
        self,
        why: str = "iter_send closed early",
        where: str = "the full outcomes are in the iterator's .leftover",
    ) -> None:
        if self._ended and not self._current:
            return
        self._ended = True
        self.leftover = self._not_handed_over()
        report_not_handed_over(self.leftover, why, where)

    def __del__(self) -> None:
        # Abandoned after a ``break`` without ``aclose()``: say what was never handed over.
        if self._index < len(self._current):
            with contextlib.suppress(Exception):  # the interpreter may be shutting down
                self._close(
                    "iter_send was dropped without aclose()",
                    "nothing can reach its .leftover any more, so this line is all that is kept"
                    " (close it with contextlib.aclosing to keep them)",
                )
