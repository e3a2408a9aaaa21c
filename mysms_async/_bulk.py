"""The bulk engine: batched, concurrent sends where every message gets exactly one outcome.

Input is read lazily, one chunk at a time (``batch_size`` messages for POST, one for GET, since
the document allows one message per GET). Each message is validated on its own: an invalid one
gets a failed result and never reaches the wire, while its chunk-mates are still sent. A chunk
whose request fails gets that error on each of its messages; only ``AuthError`` stops the run,
since every later request would fail the same way.

Two shapes of concurrency, for one reason: anyio forbids a task group or cancel scope to stay
open across a ``yield`` of an async generator (the abandoned generator is finalised from another
task). ``send_many`` returns only at the end, so it keeps ``max_concurrency`` requests in flight
continuously inside one task group. ``iter_send`` yields, so it works in waves: it reads up to
``max_concurrency`` chunks, sends them concurrently inside a task group that is closed again
before the first result is yielded. Between two ``__anext__`` calls nothing runs, so breaking
out of the loop early is safe: nothing more is read or sent, and no task is left behind.
"""

from __future__ import annotations

import itertools
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
)
from typing import TYPE_CHECKING, TypeVar

import anyio

from ._config import Seconds, to_seconds
from ._exceptions import AuthError, MySMSError, ValidationError
from ._models import Message, SendResult, StatusResult
from ._request import WireMessage, validate_message_id, wire_many

if TYPE_CHECKING:
    from ._client import MySMSClient

T = TypeVar("T")
T_in = TypeVar("T_in")

#: wait_for_delivery: each pause is this much longer than the last, up to the cap.
POLL_GROWTH = 1.5
MAX_POLL_INTERVAL = 60.0


class _Chunk:
    """Up to one request's worth of input, with the messages that failed validation set aside."""

    __slots__ = ("failed", "messages", "valid", "wires")

    def __init__(self, messages: list[Message]) -> None:
        self.messages = messages
        self.valid: list[Message] = []
        self.wires: list[WireMessage] = []
        self.failed: dict[int, SendResult] = {}


class BulkEngine:
    def __init__(self, client: MySMSClient) -> None:
        self._client = client

    # sending ---------------------------------------------------------------------------------

    def _chunk_size(self) -> int:
        settings = self._client._settings
        return 1 if settings.http_method == "GET" else settings.batch_size

    def _prepare_chunk(self, messages: list[Message]) -> _Chunk:
        """Validate a chunk: all at once when it is plainly valid, else message by message."""
        chunk = _Chunk(messages)
        client = self._client
        wires = wire_many(messages, client._sender, client._settings.timezone)
        if wires is not None:
            chunk.valid, chunk.wires = messages, wires
            return chunk
        for position, message in enumerate(messages):
            self._add(chunk, position, message)
        return chunk

    def _add(self, chunk: _Chunk, position: int, message: Message) -> None:
        try:
            wire = self._client._prepare(message)
        except ValidationError as error:
            chunk.failed[position] = SendResult(message, None, None, error)
            return
        except (ValueError, TypeError, OverflowError) as exc:
            # A value no rule foresaw must fail its own message, not sink the whole run.
            unforeseen = ValidationError("message", f"cannot be sent: {type(exc).__name__}: {exc}")
            chunk.failed[position] = SendResult(message, None, None, unforeseen)
            return
        chunk.valid.append(message)
        chunk.wires.append(wire)

    async def _chunks(
        self, messages: Iterable[Message] | AsyncIterable[Message]
    ) -> AsyncGenerator[_Chunk, None]:
        size = self._chunk_size()
        if isinstance(messages, AsyncIterable):
            batch: list[Message] = []
            async for message in messages:
                batch.append(message)
                if len(batch) == size:
                    yield self._prepare_chunk(batch)
                    batch = []
            if batch:
                yield self._prepare_chunk(batch)
        else:
            iterator = iter(messages)
            while batch := list(itertools.islice(iterator, size)):
                yield self._prepare_chunk(batch)

    async def _send_chunk(self, chunk: _Chunk) -> list[SendResult]:
        """Every message of the chunk gets a result; only ``AuthError`` escapes."""
        sent: list[SendResult]
        if not chunk.wires:
            sent = []
        else:
            try:
                sent = await self._client._send_wires(chunk.valid, chunk.wires)
            except AuthError:
                raise
            except MySMSError as error:
                sent = [SendResult(m, None, None, error) for m in chunk.valid]
        if not chunk.failed:
            return sent
        merged: list[SendResult] = []
        accepted = iter(sent)
        for position in range(len(chunk.messages)):
            failed = chunk.failed.get(position)
            merged.append(failed if failed is not None else next(accepted))
        return merged

    async def send_many(
        self, messages: Iterable[Message] | AsyncIterable[Message]
    ) -> list[SendResult]:
        outcomes = await self._run_pipelined(self._chunks(messages), self._send_chunk)
        return [result for chunk_results in outcomes for result in chunk_results]

    async def iter_send(
        self, messages: Iterable[Message] | AsyncIterable[Message]
    ) -> AsyncIterator[SendResult]:
        chunks = self._chunks(messages)
        try:
            while True:
                wave = await _take(chunks, self._client._settings.max_concurrency)
                if not wave:
                    return
                outcomes, auth_error = await _run_wave(wave, self._send_chunk)
                for chunk_results in outcomes:
                    for result in chunk_results:
                        yield result
                if auth_error is not None:
                    raise auth_error
        finally:
            await chunks.aclose()

    # status ----------------------------------------------------------------------------------

    async def _status_chunk(self, ids: list[str]) -> list[StatusResult]:
        valid: list[str] = []
        failed: dict[int, StatusResult] = {}
        for position, message_id in enumerate(ids):
            try:
                valid.append(validate_message_id(message_id))
            except ValidationError as error:
                failed[position] = StatusResult(None, None, requested_id=message_id, error=error)
        answered: list[StatusResult] = []
        if valid:
            try:
                answered = await self._client._status_ids(valid)
            except AuthError:
                raise
            except MySMSError as error:
                answered = [StatusResult(None, None, requested_id=i, error=error) for i in valid]
        answers = iter(answered)
        return [failed[p] if p in failed else next(answers) for p in range(len(ids))]

    async def status_many(self, ids: list[str]) -> list[StatusResult]:
        size = self._chunk_size()

        async def chunks() -> AsyncGenerator[list[str], None]:
            for start in range(0, len(ids), size):
                yield ids[start : start + size]

        outcomes = await self._run_pipelined(chunks(), self._status_chunk)
        return [result for chunk_results in outcomes for result in chunk_results]

    async def wait_for_delivery(
        self,
        ids: list[str],
        *,
        timeout: Seconds,  # noqa: ASYNC109 - a polling budget, not a cancel scope: it returns
        poll_interval: Seconds,
    ) -> list[StatusResult]:
        deadline = anyio.current_time() + to_seconds("timeout", timeout)
        interval = to_seconds("poll_interval", poll_interval)
        latest: dict[str, StatusResult] = {}
        pending = list(dict.fromkeys(ids))  # each id once, in order
        while pending:
            for result in await self.status_many(pending):
                latest[result.requested_id or ""] = result
            pending = [i for i in pending if _still_pending(latest[i])]
            remaining = deadline - anyio.current_time()
            if not pending or remaining <= 0:
                break
            await anyio.sleep(min(interval, remaining))
            interval = min(interval * POLL_GROWTH, MAX_POLL_INTERVAL)
        return [latest[i] for i in ids]

    # concurrency -----------------------------------------------------------------------------

    async def _run_pipelined(
        self,
        chunks: AsyncGenerator[T_in, None],
        run: Callable[[T_in], Awaitable[list[T]]],
    ) -> list[list[T]]:
        """Keep ``max_concurrency`` chunks in flight; read the next chunk only when a slot frees.

        Only ``AuthError`` stops the run: no new chunk starts, the ones in flight finish (their
        requests may already be at the gateway), and then it is raised. An error from the
        caller's own input is treated the same way: the requests already sent are not cancelled
        into an unknown outcome because the next message could not be read.
        """
        outcomes: list[list[T]] = []
        slots = anyio.Semaphore(self._client._settings.max_concurrency)
        auth_errors: list[AuthError] = []

        async def run_one(index: int, chunk: T_in) -> None:
            try:
                outcomes[index] = await run(chunk)
            except AuthError as error:
                auth_errors.append(error)
            finally:
                slots.release()

        input_error: Exception | None = None
        try:
            async with anyio.create_task_group() as group:
                try:
                    async for chunk in chunks:
                        await slots.acquire()
                        if auth_errors:
                            slots.release()
                            break
                        outcomes.append([])
                        group.start_soon(run_one, len(outcomes) - 1, chunk)
                except Exception as error:  # the input failed: re-raised once in-flight work ends
                    input_error = error
        finally:
            await chunks.aclose()
        if auth_errors:
            raise auth_errors[0]
        if input_error is not None:
            raise input_error
        return outcomes


def _still_pending(result: StatusResult) -> bool:
    if isinstance(result.error, ValidationError):
        return False  # asking again will not make a malformed id valid
    return not result.is_final


async def _take(chunks: AsyncIterator[T], count: int) -> list[T]:
    taken: list[T] = []
    async for chunk in chunks:
        taken.append(chunk)
        if len(taken) == count:
            break
    return taken


async def _run_wave(
    wave: list[T_in], run: Callable[[T_in], Awaitable[list[T]]]
) -> tuple[list[list[T]], AuthError | None]:
    """Run a wave of chunks concurrently; on ``AuthError`` keep only the chunks before it."""
    outcomes: list[list[T] | AuthError] = [[] for _ in wave]

    async def run_one(index: int, chunk: T_in) -> None:
        try:
            outcomes[index] = await run(chunk)
        except AuthError as error:
            outcomes[index] = error

    async with anyio.create_task_group() as group:
        for index, chunk in enumerate(wave):
            group.start_soon(run_one, index, chunk)
    kept: list[list[T]] = []
    for outcome in outcomes:
        if isinstance(outcome, AuthError):
            return kept, outcome
        kept.append(outcome)
    return kept, None
