"""The layer both façades call: prepare -> exchange -> decode -> results.

``MySMSClient`` (one message at a time) and the bulk engine (many) compose the same steps, so
the steps live here, owned by neither: data flows one way, façades -> operations -> request
builder, transport, decoders, models. This is also where a failure becomes an outcome: any
exception out of building a request is that chunk's failed result, never a cancelled run, and an
answer entry the gateway left without an id is ``DeliveryUnknownError``, never ``ok=True``.

Every request passes the client's event-loop guard (``_lifecycle.Lifecycle``) first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any, TypeVar

from . import _constants as C
from ._codes import message_state, message_state_lookup
from ._config import Credentials, Settings
from ._decoders import SendAnswer, WireBatch, WireEntry, decode_balance, decode_batch, decode_send
from ._exceptions import (
    AuthError,
    BaseURLError,
    ClientClosedError,
    DeliveryUnknownError,
    MySMSError,
    ResponseError,
    ValidationError,
    WrongEventLoopError,
)
from ._lifecycle import Lifecycle, State
from ._models import (
    AnsweredSendResult,
    AnsweredStatusResult,
    Balance,
    Message,
    SendResult,
    StatusResult,
)
from ._redact import describe_exception
from ._request import (
    PreparedRequest,
    RequestBuilder,
    WireMessage,
    to_wire,
    validate_message_id,
    wire_many,
)
from ._transport import Transport

logger = logging.getLogger(C.LOGGER_NAME)

#: Errors after which no later request can succeed: a bulk run stops reading and reports.
STOP_ERRORS = (AuthError, BaseURLError, ClientClosedError, WrongEventLoopError)

T = TypeVar("T")


class Chunk:
    """Up to one request's worth of messages, with the ones that cannot be sent set aside."""

    __slots__ = ("failed", "messages", "valid", "wires")
    messages: list[Message]

    def __init__(self, messages: list[Message]) -> None:
        self.messages = messages
        self.valid: list[Message] = []
        #: A list, or ``EncodedWires`` (the JSON already written) for a plain chunk.
        self.wires: Sequence[WireMessage] = []
        self.failed: dict[int, SendResult] = {}

    def fail_all(self, error: MySMSError) -> list[SendResult]:
        """Every message's outcome is ``error`` (those already refused keep their own)."""
        failed = self.failed
        return [
            failed.get(position) or SendResult(message, None, None, error)
            for position, message in enumerate(self.messages)
        ]

    def merge(self, sent: list[SendResult]) -> list[SendResult]:
        """Put the set-aside failures back among the sent messages' outcomes, in input order."""
        if not self.failed:
            return sent
        merged: list[SendResult] = []
        answers = iter(sent)
        for position in range(len(self.messages)):
            failed = self.failed.get(position)
            merged.append(failed if failed is not None else next(answers))
        return merged


class Operations:
    """The client's configured pieces, and the steps from a message to its outcome."""

    builder: RequestBuilder
    lifecycle: Lifecycle
    chunk_size: int

    def __init__(
        self,
        settings: Settings,
        credentials: Credentials,
        sender: str | None,
        transport: Transport,
    ) -> None:
        self.settings = settings
        self.sender = sender
        self.transport = transport
        self.builder = RequestBuilder(credentials, settings.wire_format, settings.http_method)
        self.lifecycle = Lifecycle()
        self._secret = credentials.password
        #: The document allows one message per GET.
        self.chunk_size = 1 if settings.http_method == "GET" else settings.batch_size
        self._query_budget: int | None = getattr(self.builder, "query_budget", None)
        #: A JSON POST body can take a plain chunk already written (``wire_many(json=True)``).
        self._json_post = settings.wire_format == "json" and settings.http_method == "POST"

    # preparing -------------------------------------------------------------------------------

    def prepare(self, message: Message) -> WireMessage:
        """Validate one message and spell it for the wire (raises ``ValidationError``)."""
        try:
            return to_wire(
                message,
                self.sender,
                self.settings.timezone,
                query_budget=self._query_budget,
                max_parts=self.settings.max_parts,
            )
        except MySMSError:
            raise
        except Exception as exc:
            # A value no rule foresaw fails its own message, never the run.
            raise self._unsendable(exc) from None

    def prepare_chunk(self, messages: list[Message]) -> Chunk:
        """Validate a chunk: all at once when it is plainly valid, else message by message."""
        chunk = Chunk(messages)
        try:
            wires = wire_many(
                messages,
                self.sender,
                self.settings.timezone,
                query_budget=self._query_budget,
                max_parts=self.settings.max_parts,
                json=self._json_post,
            )
        except Exception:
            wires = None  # the per-message path below names what is wrong
        if wires is not None:
            chunk.valid, chunk.wires = messages, wires
            return chunk
        checked: list[WireMessage] = []
        for position, message in enumerate(messages):
            try:
                wire = self.prepare(message)
            except MySMSError as error:
                chunk.failed[position] = SendResult(message, None, None, error)
                continue
            chunk.valid.append(message)
            checked.append(wire)
        chunk.wires = checked
        return chunk

    def _unsendable(self, exc: BaseException) -> ValidationError:
        described = describe_exception(exc, self._secret)
        return ValidationError("message", f"cannot be sent: {described}")

    def _build_send(self, wires: Sequence[WireMessage]) -> PreparedRequest:
        try:
            return self.builder.send(wires)
        except MySMSError:
            raise
        except Exception as exc:  # e.g. an encoder refusing a value, a URL httpx will not take
            raise self._unsendable(exc) from None

    # sending ---------------------------------------------------------------------------------

    async def send_wires(
        self, messages: Sequence[Message], wires: Sequence[WireMessage]
    ) -> list[SendResult]:
        """One request for already-validated messages; raises on any request-level failure."""
        return await self._send_prepared(messages, self._build_send(wires))

    async def _send_prepared(
        self, messages: Sequence[Message], prepared: PreparedRequest
    ) -> list[SendResult]:
        self.lifecycle.check()
        expected = prepared.count
        answer: SendAnswer = await self._execute(
            prepared, lambda body: self._decode_send(body, expected), messages
        )
        assert answer.data is not None  # _decode_send checked it
        return answered_results(messages, answer.data, answer.ids, answer.common_state)

    async def send_chunk(self, chunk: Chunk) -> tuple[list[SendResult], MySMSError | None]:
        """Every message of the chunk gets an outcome; a run-stopping error is returned beside.

        Nothing but cancellation escapes: a request that cannot be built is tried message by
        message so that only the unbuildable ones fail, and any request failure becomes the
        outcome of the chunk's messages.
        """
        if not chunk.wires:
            return chunk.merge([]), None
        try:
            try:
                prepared = self._build_send(chunk.wires)
            except ValidationError:
                self._isolate_unbuildable(chunk)
                if not chunk.wires:
                    return chunk.merge([]), None
                prepared = self._build_send(chunk.wires)
            sent = await self._send_prepared(chunk.valid, prepared)
        except STOP_ERRORS as error:
            return chunk.merge([SendResult(m, None, None, error) for m in chunk.valid]), error
        except MySMSError as error:
            return chunk.merge([SendResult(m, None, None, error) for m in chunk.valid]), None
        return chunk.merge(sent), None

    def _isolate_unbuildable(self, chunk: Chunk) -> None:
        valid: list[Message] = []
        wires: list[WireMessage] = []
        positions = [p for p in range(len(chunk.messages)) if p not in chunk.failed]
        for position, message, wire in zip(positions, chunk.valid, chunk.wires, strict=True):
            try:
                self._build_send([wire])
            except ValidationError as error:
                chunk.failed[position] = SendResult(message, None, None, error)
                continue
            valid.append(message)
            wires.append(wire)
        chunk.valid, chunk.wires = valid, wires

    # status and balance ----------------------------------------------------------------------

    async def status_ids(self, ids: Sequence[str]) -> list[StatusResult]:
        """One request for already-validated ids."""
        self.lifecycle.check()
        expected = len(ids)
        batch: WireBatch = await self._execute(
            self.builder.status(ids, self.sender),
            lambda body: self._decode_batch(body, expected),
            (),
        )
        assert batch.data is not None
        return [
            AnsweredStatusResult(entry.id or None, message_state(entry.state), requested_id=req)
            for req, entry in zip(ids, batch.data, strict=True)
        ]

    async def status_chunk(self, ids: list[str]) -> tuple[list[StatusResult], MySMSError | None]:
        """Every id of the chunk gets a result; a run-stopping error is returned beside."""
        valid: list[str] = []
        failed: dict[int, StatusResult] = {}
        for position, message_id in enumerate(ids):
            try:
                valid.append(validate_message_id(message_id))
            except ValidationError as error:
                failed[position] = StatusResult(None, None, requested_id=message_id, error=error)
        answered: list[StatusResult] = []
        stop: MySMSError | None = None
        if valid:
            try:
                answered = await self.status_ids(valid)
            except MySMSError as error:
                if isinstance(error, STOP_ERRORS):
                    stop = error
                answered = [StatusResult(None, None, requested_id=i, error=error) for i in valid]
        answers = iter(answered)
        return [failed[p] if p in failed else next(answers) for p in range(len(ids))], stop

    async def balance(self) -> Balance:
        self.lifecycle.check()
        answer = await self._execute(
            self.builder.credit(),
            lambda body: decode_balance(body, self.settings.wire_format),
            (),
        )
        if answer.amount is None:
            raise ResponseError("balance answer has no <balance>", status_code=200)
        return Balance(amount=answer.amount)

    # the exchange ----------------------------------------------------------------------------

    async def _execute(
        self, prepared: PreparedRequest, parse: Callable[[bytes], T], messages: Sequence[Message]
    ) -> T:
        """``transport.execute``, with anything not ours turned into an outcome of ours."""
        try:
            return await self.transport.execute(prepared, parse, messages=messages)
        except MySMSError:
            raise
        except Exception as exc:
            error = self._foreign_error(exc, prepared, messages)
        raise error

    def _foreign_error(
        self, exc: Exception, prepared: PreparedRequest, messages: Sequence[Message]
    ) -> MySMSError:
        if self.lifecycle.state is State.CLOSED:
            # httpx refuses a request on a closed client before sending anything.
            return ClientClosedError("the client was closed before this request started")
        detail = describe_exception(exc, self._secret)
        logger.warning("unexpected error from the transport: %s", detail)
        if prepared.operation == "send":
            return DeliveryUnknownError(
                f"the gateway may have accepted {len(messages)} message(s), but an unexpected"
                " error hid the outcome; not resent, to avoid a duplicate SMS",
                messages=messages,
                detail=detail,
            )
        return MySMSError(f"the request failed unexpectedly ({detail})")

    def _decode_batch(self, body: bytes, expected: int) -> WireBatch:
        batch = decode_batch(body, self.settings.wire_format)
        _check_count(batch, expected)
        return batch

    def _decode_send(self, body: bytes, expected: int) -> SendAnswer:
        """A send answer and its ids (read once: for the uniqueness check and the results)."""
        answer = decode_send(body, self.settings.wire_format)
        _check_count(answer, expected)
        return answer


def _check_count(batch: WireBatch | SendAnswer, expected: int) -> None:
    if batch.state == 0 and (batch.data is None or len(batch.data) != expected):
        got = 0 if batch.data is None else len(batch.data)
        raise ResponseError(
            f"answer's data has {got} entries for {expected} in the request", status_code=200
        )


def answered_results(
    messages: Sequence[Message],
    data: list[WireEntry],
    ids: list[str | None],
    common_state: int | None = None,
) -> list[SendResult]:
    """One result per answer entry, in order: ``messages``, ``data`` and ``ids`` line up.

    The common case (every entry has an id) is built in C-level passes, with one state lookup
    when every entry has the same state (a batch of fresh messages is all "queued";
    ``common_state`` when the decoder already found it so). An entry without an id is a
    refusal when its state is negative, else ``DeliveryUnknownError``.
    """
    if all(ids):
        if common_state is not None:
            state = message_state(common_state)
            return list(map(AnsweredSendResult, messages, ids, repeat(state, len(ids))))
        states = [entry.state for entry in data]
        if states and states.count(states[0]) == len(states):
            state = message_state(states[0])
            return list(map(AnsweredSendResult, messages, ids, repeat(state, len(states))))
        return list(
            map(AnsweredSendResult, messages, ids, map(message_state_lookup, states, states))
        )
    results: list[SendResult] = []
    append = results.append
    for message, entry in zip(messages, data, strict=True):
        if entry.id or entry.state < 0:
            append(AnsweredSendResult(message, entry.id or None, message_state(entry.state)))
        else:
            append(SendResult(message, None, None, _no_id_error(message, entry)))
    return results


def _no_id_error(message: Message, entry: Any) -> DeliveryUnknownError:
    return DeliveryUnknownError(
        f"the gateway answered message state {entry.state} without a message id: it may have"
        " accepted the message, but there is no id to follow; not resent, to avoid a duplicate",
        messages=[message],
        status_code=200,
    )
