"""Issue 8's engine findings, each rebuilt from its reproduction: no accepted message is ever
reported lost, whatever stops a run, and the client stays usable."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
import threading
import warnings
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from scripted_gateway import AUTH, NOID_MISSING, SLOW, ScriptedGateway

from mysms_async import (
    AuthError,
    ClientClosedError,
    DeliveryUnknownError,
    InputError,
    Message,
    MySMSClient,
    MySMSError,
    SendResult,
    StatusResult,
    ValidationError,
    WrongEventLoopError,
    _bulk_send,
)
from mysms_async._constants import MAX_LOGGED_OUTCOMES


def numbered(count: int, *, special: dict[int, str] | None = None) -> list[Message]:
    special = special or {}
    return [
        Message("79112220000", f"m{i}" + (f" {special[i]}" if i in special else ""))
        for i in range(count)
    ]


def accepted_texts(gateway: ScriptedGateway) -> set[str]:
    """What the scripted gateway accepted: every batch except those it refused (AUTH)."""
    return {
        entry["text"]
        for batch in gateway.batches
        if not any(AUTH in entry["text"] for entry in batch)
        for entry in batch
    }


# ---------------------------------------------------------------------------------------------
# 1. A mid-run AuthError keeps the outcomes of the batches the gateway accepted


#: The refusal comes last, so that the other three requests are surely on the wire by then.
REFUSED_FIRST = {0: f"{AUTH} {SLOW}"}


def _check_auth_outcomes(results: Sequence[SendResult], error: AuthError) -> None:
    expected = numbered(40, special=REFUSED_FIRST)
    assert [r.message.text for r in results] == [m.text for m in expected]
    assert all(r.error is error and not r.ok for r in results[:10])
    assert all(r.ok and r.id == f"id-m{i}" for i, r in enumerate(results[10:], start=10))


async def test_send_many_auth_error_carries_every_outcome_read_so_far() -> None:
    gateway = ScriptedGateway(delay=0.01, slow_seconds=0.1)
    async with gateway.client(batch_size=10, max_concurrency=4) as client:
        with pytest.raises(AuthError) as caught:
            await client.send_many(numbered(40, special=REFUSED_FIRST))
    _check_auth_outcomes(caught.value.results, caught.value)
    assert accepted_texts(gateway) == {f"m{i}" for i in range(10, 40)}


async def test_iter_send_yields_every_answered_outcome_before_the_auth_error() -> None:
    gateway = ScriptedGateway(delay=0.01, slow_seconds=0.1)
    received: list[SendResult] = []
    async with gateway.client(batch_size=10, max_concurrency=4) as client:
        with pytest.raises(AuthError) as caught:
            async for result in client.iter_send(numbered(40, special=REFUSED_FIRST)):
                received.append(result)
    _check_auth_outcomes(received, caught.value)
    assert caught.value.results == []  # nothing read was left unreported


async def test_stream_send_yields_every_answered_outcome_before_the_auth_error() -> None:
    gateway = ScriptedGateway(delay=0.01, slow_seconds=0.1)
    received: list[SendResult] = []
    async with gateway.client(batch_size=10, max_concurrency=4) as client:
        with pytest.raises(AuthError) as caught:
            async with client.stream_send(numbered(40, special=REFUSED_FIRST)) as results:
                async for result in results:
                    received.append(result)
    _check_auth_outcomes(received, caught.value)
    assert results.leftover == []


# ---------------------------------------------------------------------------------------------
# 2. The caller's input raises: the error carries .results, wrapped unless it is ours


def _failing_input(count: int, error: Exception) -> Iterator[Message]:
    yield from numbered(count)
    raise error


async def test_an_input_error_is_wrapped_and_carries_the_outcomes_before_it() -> None:
    gateway = ScriptedGateway(delay=0.01)
    async with gateway.client(batch_size=10, max_concurrency=4) as client:
        with pytest.raises(InputError) as caught:
            await client.send_many(_failing_input(35, KeyError("row 36")))
        assert (await client.send("79112223333", "still works")).ok
    error = caught.value
    assert isinstance(error.__cause__, KeyError)
    results = error.results
    assert [r.message.text for r in results] == [f"m{i}" for i in range(35)]
    assert all(r.ok for r in results[:30])
    # The five read in the broken chunk were not sent: nothing goes out once the input failed.
    assert all(r.error is error and not r.ok for r in results[30:])
    assert accepted_texts(gateway) == {f"m{i}" for i in range(30)} | {"still works"}


async def test_an_input_error_of_ours_keeps_its_type() -> None:
    async with ScriptedGateway().client(batch_size=10) as client:
        with pytest.raises(ValidationError) as caught:
            await client.send_many(_failing_input(12, ValidationError("row", "bad")))
    assert [r.ok for r in caught.value.results] == [True] * 10 + [False] * 2


async def test_an_async_input_error_in_iter_send_comes_after_the_outcomes_before_it() -> None:
    async def messages() -> AsyncIterator[Message]:
        for message in numbered(25):
            yield message
        raise OSError("the campaign file went away")

    received: list[SendResult] = []
    async with ScriptedGateway().client(batch_size=10, max_concurrency=2) as client:
        with pytest.raises(InputError, match="went away") as caught:
            async for result in client.iter_send(messages()):
                received.append(result)
    assert [r.ok for r in received] == [True] * 20 + [False] * 5
    assert all(r.error is caught.value for r in received[20:])


# ---------------------------------------------------------------------------------------------
# 3. An exception while building a request fails only its message


class _ExplodingBuilder:
    """The real builder, except that a batch holding BOOM raises what msgspec would."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def send(self, wires: Sequence[Any]) -> Any:
        if any("BOOM" in wire.text for wire in wires):
            raise TypeError("Encoding objects of type Weird is unsupported")
        return self._real.send(wires)


async def test_a_builder_error_fails_its_own_message_and_cancels_nothing() -> None:
    gateway = ScriptedGateway(delay=0.01)
    messages = numbered(50, special={23: "BOOM"})
    async with gateway.client(batch_size=10, max_concurrency=4) as client:
        client._ops.builder = _ExplodingBuilder(client._ops.builder)  # type: ignore[assignment]
        results = await client.send_many(messages)
        streamed = [r async for r in client.iter_send(messages)]
    for outcome in (results, streamed):
        assert [r.message for r in outcome] == messages
        error = outcome[23].error
        assert isinstance(error, ValidationError) and "TypeError" in str(error)
        assert all(r.ok for i, r in enumerate(outcome) if i != 23)


async def test_a_builder_error_in_send_is_a_validation_error() -> None:
    gateway = ScriptedGateway()
    async with gateway.client() as client:
        client._ops.builder = _ExplodingBuilder(client._ops.builder)  # type: ignore[assignment]
        with pytest.raises(ValidationError, match="TypeError"):
            await client.send("79112223333", "BOOM")
    assert gateway.batches == []


async def test_an_overlong_get_fails_alone() -> None:
    gateway = ScriptedGateway()
    messages = [*numbered(3), Message("79112220000", "Щ" * 11_000), *numbered(6)[3:]]
    async with gateway.client(http_method="GET", max_concurrency=3) as client:
        results = await client.send_many(messages)
    assert isinstance(results[3].error, ValidationError)
    assert [r.ok for r in results] == [True] * 3 + [False] + [True] * 3
    assert len(gateway.batches) == 6


# ---------------------------------------------------------------------------------------------
# 4. aclose() while requests wait for a slot


async def test_aclose_while_a_send_waits_for_a_slot_is_client_closed_error() -> None:
    gateway = ScriptedGateway(slow_seconds=0.2)
    on_the_wire = anyio.Event()
    gateway.on_send = lambda _: on_the_wire.set()
    outcomes: dict[str, object] = {}

    async def send(name: str, text: str) -> None:
        try:
            outcomes[name] = await client.send("79112223333", text)
        except MySMSError as error:
            outcomes[name] = error

    client = gateway.client(max_concurrency=1)
    async with anyio.create_task_group() as group:
        group.start_soon(send, "first", f"first {SLOW}")
        await on_the_wire.wait()  # the first holds the only slot, and is at the gateway
        group.start_soon(send, "second", "second")
        await anyio.wait_all_tasks_blocked()  # the second waits for the slot
        await client.aclose()
    assert isinstance(outcomes["second"], ClientClosedError)
    assert [b[0]["text"] for b in gateway.batches] == [f"first {SLOW}"]  # the second never left
    # The first was on the wire: it keeps a real outcome (an answer, or unknown delivery).
    first = outcomes["first"]
    assert isinstance(first, SendResult | DeliveryUnknownError)


async def test_aclose_during_send_many_stops_the_run_and_reports() -> None:
    gateway = ScriptedGateway(delay=0.05)
    mid_run = anyio.Event()

    def on_send(_: object) -> None:
        if len(gateway.batches) >= 3:
            mid_run.set()

    gateway.on_send = on_send
    client = gateway.client(batch_size=5, max_concurrency=2)
    caught: list[BaseException] = []

    async def run() -> None:
        try:
            await client.send_many(numbered(100))
        except MySMSError as error:
            caught.append(error)

    async with anyio.create_task_group() as group:
        group.start_soon(run)
        await mid_run.wait()  # the third request is at the gateway: the run is under way
        await client.aclose()
    (error,) = caught
    assert isinstance(error, ClientClosedError)
    results = error.results
    assert [r.message for r in results] == numbered(100)[: len(results)]
    sent = {entry["text"] for batch in gateway.batches for entry in batch}
    for result in results:
        if result.message.text in sent:
            assert result.ok or isinstance(result.error, DeliveryUnknownError)
        else:
            assert not result.ok and not isinstance(result.error, DeliveryUnknownError)


# ---------------------------------------------------------------------------------------------
# 5. An answer entry without an id is unknown, never ok=True with id=None


@pytest.mark.parametrize("marker", ["NOID_EMPTY", "NOID_NULL", NOID_MISSING])
async def test_an_accepted_entry_without_an_id_is_delivery_unknown(marker: str) -> None:
    async with ScriptedGateway().client(batch_size=3) as client:
        results = await client.send_many(numbered(3, special={1: marker}))
        with pytest.raises(DeliveryUnknownError) as caught:
            await client.send("79112223333", marker)
    assert [r.ok for r in results] == [True, False, True]
    assert isinstance(results[1].error, DeliveryUnknownError)
    assert results[1].error.messages == (results[1].message,)
    assert caught.value.messages[0].text == marker


# ---------------------------------------------------------------------------------------------
# 6b. Leaving a stream early loses no outcome silently


async def test_breaking_out_of_iter_send_names_the_accepted_ids_it_did_not_hand_over(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="mysms_async")
    gateway = ScriptedGateway()
    async with (
        gateway.client(batch_size=50, max_concurrency=4) as client,
        contextlib.aclosing(client.iter_send(numbered(400))) as results,
    ):
        async for _ in results:
            break
    assert len(gateway.batches) == 4
    leftover = results.leftover
    assert [r.id for r in leftover] == [f"id-m{i}" for i in range(1, 200)]
    (record,) = [r for r in caplog.records if r.levelname == "WARNING"]
    logged = record.getMessage()
    assert "199 accepted" in logged
    # The first ids are named, the rest counted; the full list is where the line says.
    assert all(f"id-m{i}," in logged for i in range(1, MAX_LOGGED_OUTCOMES))
    assert f"and {199 - MAX_LOGGED_OUTCOMES} more" in logged
    assert "the iterator's .leftover" in logged


async def test_an_abandoned_iter_send_warns_when_collected(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="mysms_async")
    async with ScriptedGateway().client(batch_size=5, max_concurrency=2) as client:
        async for _ in client.iter_send(numbered(40)):
            break
        gc.collect()
    (logged,) = [r.getMessage() for r in caplog.records if "9 accepted" in r.getMessage()]
    # Nothing can read the collected iterator's .leftover: the line does not send anyone there.
    assert "dropped without aclose()" in logged and "all that is kept" in logged


async def test_leaving_stream_send_early_finishes_requests_in_flight_into_leftover(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="mysms_async")
    gateway = ScriptedGateway(delay=0.02)
    async with gateway.client(batch_size=10, max_concurrency=4) as client:
        async with client.stream_send(numbered(1000)) as results:
            async for _ in results:
                break
        sent = sorted(entry["text"] for batch in gateway.batches for entry in batch)
        assert (await client.send("79112223333", "after")).ok
    # Every message sent is reported: one handed over, the rest answered into leftover.
    assert len(results.leftover) == len(sent) - 1
    assert all(r.ok for r in results.leftover)
    assert len(sent) <= 10 * (2 * 4 + 1)  # reading stayed within its window
    assert any("accepted" in r.getMessage() for r in caplog.records)


async def test_stream_send_cancelled_from_outside_marks_requests_in_flight_unknown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="mysms_async")
    gateway = ScriptedGateway(slow_seconds=30)
    received: list[SendResult] = []
    async with gateway.client(batch_size=2, max_concurrency=2) as client:
        with anyio.move_on_after(0.2):
            async with client.stream_send(numbered(20, special={6: SLOW})) as results:
                async for result in results:
                    received.append(result)
        assert gateway.in_flight == 0
        assert (await client.send("79112223333", "after")).ok
    reported = received + results.leftover
    assert [r.message for r in reported] == numbered(20, special={6: SLOW})[: len(reported)]
    assert isinstance(reported[6].error, DeliveryUnknownError)
    warned = [r.getMessage() for r in caplog.records if "stream_send left early" in r.getMessage()]
    assert warned and "of unknown delivery (to: 79112220000" in warned[0]
    sent = {entry["text"] for batch in gateway.batches for entry in batch}
    for result in reported:
        if result.message.text in sent:
            assert result.ok or isinstance(result.error, DeliveryUnknownError)


# ---------------------------------------------------------------------------------------------
# 8. One client, two event loops or two threads


def test_a_client_used_from_a_second_event_loop_says_so_before_any_io() -> None:
    gateway = ScriptedGateway()
    client = gateway.client()

    async def job() -> SendResult:
        return await client.send("79112223333", "job")

    assert asyncio.run(job()).ok
    with pytest.raises(WrongEventLoopError, match=r"asyncio\.run"):
        asyncio.run(job())
    assert len(gateway.batches) == 1  # the second job sent nothing


def test_a_client_shared_with_another_thread_says_so() -> None:
    gateway = ScriptedGateway()
    client = gateway.client()
    assert asyncio.run(client.send("79112223333", "main")).ok
    caught: list[BaseException] = []

    def other() -> None:
        try:
            asyncio.run(client.send_many(numbered(3)))
        except BaseException as error:  # handed to the main thread
            caught.append(error)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(5)
    assert not thread.is_alive()
    assert isinstance(caught[0], WrongEventLoopError)
    assert len(gateway.batches) == 1


# ---------------------------------------------------------------------------------------------
# 12, 13, 14: ids that are None, numbers that are not finite, a str for an iterable


async def test_wait_for_delivery_reports_a_none_id_instead_of_a_key_error() -> None:
    gateway = ScriptedGateway()
    gateway.states = {"a": [4]}
    async with gateway.client() as client:
        results = await client.wait_for_delivery(
            ["a", None, "a"],  # type: ignore[list-item]
            timeout=1,
            poll_interval=0.01,
        )
    assert [r.state for r in results] == [4, None, 4]
    assert isinstance(results[1].error, ValidationError)
    assert gateway.status_requests == [["a"]]


@pytest.mark.parametrize(
    "option",
    [
        {"timeout": math.nan},
        {"timeout": math.inf},
        {"retry_backoff": math.nan},
        {"retry_backoff": math.inf},
        {"rate_limit": math.nan},
        {"rate_limit": math.inf},
        {"rate_limit": 0},
    ],
)
def test_numbers_that_are_not_finite_are_refused_at_construction(option: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as caught:
        MySMSClient("alice", "pw", **option)
    assert caught.value.field == next(iter(option))


@pytest.mark.parametrize(
    ("timeout", "poll_interval", "field"),
    [
        (math.nan, 1.0, "timeout"),
        (math.inf, 1.0, "timeout"),
        (1.0, 0, "poll_interval"),
        (1.0, math.nan, "poll_interval"),
        (1.0, -1, "poll_interval"),
    ],
)
async def test_wait_for_delivery_checks_its_numbers_before_polling(
    timeout: float,  # noqa: ASYNC109 - the argument under test
    poll_interval: float,
    field: str,
) -> None:
    gateway = ScriptedGateway()
    async with gateway.client() as client:
        with pytest.raises(ValidationError) as caught:
            await client.wait_for_delivery(["a"], timeout=timeout, poll_interval=poll_interval)
    assert caught.value.field == field
    assert gateway.status_requests == []


@pytest.mark.parametrize("value", ["hello", b"hello", bytearray(b"hi")])
async def test_a_bare_string_is_not_an_iterable_of_messages_or_ids(value: Any) -> None:
    gateway = ScriptedGateway()
    async with gateway.client() as client:
        for call in (
            lambda: client.send_many(value),
            lambda: client.status_many(value),
            lambda: client.wait_for_delivery(value, timeout=1),
        ):
            with pytest.raises(ValidationError, match="not a single"):
                await call()
        with pytest.raises(ValidationError):
            client.iter_send(value)
        with pytest.raises(ValidationError):
            client.stream_send(value)
    assert gateway.batches == [] and gateway.status_requests == []


# ---------------------------------------------------------------------------------------------
# 16. trio: breaking out of iter_send leaves nothing for the collector to warn about


def test_breaking_out_of_iter_send_under_trio_warns_of_nothing() -> None:
    gateway = ScriptedGateway()

    async def main() -> None:
        async with gateway.client(batch_size=2, max_concurrency=2) as client:
            for _ in range(3):
                async for _ in client.iter_send(numbered(10)):
                    break
                gc.collect()
            await anyio.lowlevel.checkpoint()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        anyio.run(main, backend="trio")
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


# ---------------------------------------------------------------------------------------------
# Issue 10: answered results are untracked; stream_send keeps requests in flight without waves


async def test_answered_results_are_not_tracked_but_failed_ones_are() -> None:
    gateway = ScriptedGateway()
    gateway.states = {"id-m0": [2]}
    async with gateway.client(batch_size=5) as client:
        results = await client.send_many([*numbered(2), Message("1", "invalid")])
        (status,) = await client.status_many(["id-m0"])
    assert not gc.is_tracked(results[0]) and not gc.is_tracked(status)
    assert gc.is_tracked(results[2])  # it holds an exception, whose traceback may lead back
    # As users see them: the public class, equality, repr.
    assert isinstance(results[0], SendResult) and isinstance(status, StatusResult)
    twin = SendResult(results[0].message, results[0].id, results[0].state)
    assert results[0] == twin and hash(results[0]) == hash(twin)
    assert repr(results[0]) == repr(twin)
    assert status == StatusResult("id-m0", 2, requested_id="id-m0")


async def test_stream_send_keeps_requests_in_flight_past_a_slow_head_of_line() -> None:
    gateway = ScriptedGateway(slow_seconds=0.3)
    messages = numbered(100, special={0: SLOW})
    async with (
        gateway.client(batch_size=5, max_concurrency=2) as client,
        client.stream_send(messages) as results,
    ):
        first = await results.__anext__()
        batches_when_head_answered = len(gateway.batches)
        rest = [r async for r in results]
    assert first.ok and len(rest) == 99 and all(r.ok for r in rest)
    # With waves, only the head's wave-mate (one batch) could go while the head was slow; the
    # pipeline kept the second worker busy up to its reading window (2 x max_concurrency
    # chunks read and not yet consumed, the head included).
    assert batches_when_head_answered == 2 * 2


# ---------------------------------------------------------------------------------------------
# Issue 14.3: a BaseException from the caller's input is raised as itself, outcomes kept


class _Refuses(BaseException):
    """A caller's exception that takes no new attributes: ``.results`` cannot be put on it."""

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(name)


def _interrupting(count: int, error: BaseException) -> Iterator[Message]:
    yield from numbered(count)
    raise error


async def test_send_many_interrupted_keeps_the_outcomes_on_the_exception_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="mysms_async")
    gateway = ScriptedGateway(delay=0.01)
    async with gateway.client(batch_size=3, max_concurrency=2) as client:
        try:
            await client.send_many(_interrupting(12, KeyboardInterrupt()))
        except KeyboardInterrupt as interrupt:  # itself, not a group
            results: list[SendResult] = interrupt.results  # type: ignore[attr-defined]
        assert (await client.send("79112223333", "still works")).ok
    assert [r.id for r in results] == [f"id-m{i}" for i in range(12)]
    (logged,) = [r.getMessage() for r in caplog.records if "interrupted" in r.getMessage()]
    assert "send_many was interrupted by KeyboardInterrupt" in logged
    assert "12 accepted" in logged and "the KeyboardInterrupt's .results" in logged
    assert ".leftover" not in logged  # send_many has none


async def test_an_exception_that_takes_no_results_gets_the_outcomes_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="mysms_async")
    gateway = ScriptedGateway(delay=0.01)
    async with gateway.client(batch_size=3, max_concurrency=2) as client:
        with pytest.raises(_Refuses) as caught:
            await client.send_many(_interrupting(7, _Refuses()))
    assert type(caught.value) is _Refuses
    assert not hasattr(caught.value, "results")
    (logged,) = [r.getMessage() for r in caplog.records if "interrupted" in r.getMessage()]
    assert "6 accepted (ids: id-m0, id-m1, id-m2, id-m3, id-m4, id-m5)" in logged
    assert "1 not sent" in logged  # the seventh was read with the exception
    assert "could not be attached to the _Refuses" in logged and ".results" not in logged


# ---------------------------------------------------------------------------------------------
# Issue 14.9: the early-exit WARNING gives counts, a bounded list, and where the rest are


async def test_a_cancelled_send_many_logs_a_bounded_line_with_the_counts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="mysms_async")
    gateway = ScriptedGateway()
    with anyio.CancelScope() as scope:

        def cancel_at_the_thirtieth(batch: list[dict[str, Any]]) -> None:
            if len(gateway.batches) == 30:
                scope.cancel()

        gateway.on_send = cancel_at_the_thirtieth
        async with gateway.client(batch_size=10, max_concurrency=4) as client:
            await client.send_many(numbered(2000))
    assert scope.cancelled_caught
    (logged,) = [r.getMessage() for r in caplog.records if "send_many" in r.getMessage()]
    accepted = int(logged.split(" accepted")[0].rsplit(" ", 1)[1])
    unknown = int(logged.split(" of unknown delivery")[0].rsplit(" ", 1)[1])
    sent = sum(len(batch) for batch in gateway.batches)
    # Every message sent is counted: answered ones accepted, those cut off in flight unknown
    # (a request cancelled on its way may or may not have reached the gateway).
    assert accepted <= sent <= accepted + unknown and accepted > MAX_LOGGED_OUTCOMES
    assert f"and {accepted - MAX_LOGGED_OUTCOMES} more" in logged
    assert logged.count("id-m") == MAX_LOGGED_OUTCOMES
    assert ".leftover" not in logged and ".results" not in logged  # send_many has neither
    assert len(logged) < 2000


async def test_leaving_a_stream_early_names_its_leftover_in_a_bounded_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="mysms_async")
    gateway = ScriptedGateway(delay=0.01)
    async with (
        gateway.client(batch_size=50, max_concurrency=4) as client,
        client.stream_send(numbered(2000)) as results,
    ):
        async for _ in results:
            break
    (logged,) = [r.getMessage() for r in caplog.records if "stream_send" in r.getMessage()]
    assert f"{len(results.leftover)} accepted" in logged
    assert len(results.leftover) > MAX_LOGGED_OUTCOMES
    assert f"and {len(results.leftover) - MAX_LOGGED_OUTCOMES} more" in logged
    assert "the stream's .leftover" in logged and len(logged) < 2000


# ---------------------------------------------------------------------------------------------
# Issue 14.6: the work a run does follows its batches, not max_concurrency


@pytest.fixture
def workers_started(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the bulk engine's worker tasks as they start."""
    started: list[int] = []
    work = _bulk_send.Pipeline._work

    async def counted(self: Any) -> None:
        started.append(1)
        await work(self)

    monkeypatch.setattr(_bulk_send.Pipeline, "_work", counted)
    return started


def _as_given(messages: list[Message], kind: str) -> Any:
    if kind == "list":
        return messages
    if kind == "generator":
        return (m for m in messages)

    async def agen() -> AsyncIterator[Message]:
        for message in messages:
            yield message

    return agen()


@pytest.mark.parametrize("kind", ["list", "generator", "async"])
@pytest.mark.parametrize("count", [0, 2, 250, 300])
async def test_a_huge_max_concurrency_starts_workers_only_for_the_batches(
    workers_started: list[int], count: int, kind: str
) -> None:
    batches = -(-count // 100)
    # A list's length is known: one worker per batch at most. Another iterable may need one
    # more, which finds the input ended (after a full last batch) and reads nothing.
    most = batches if kind == "list" else batches + 1
    async with ScriptedGateway().client(batch_size=100, max_concurrency=100_000) as client:
        with anyio.fail_after(10):  # before: 100,000 workers, 5-6 s for two messages
            results = await client.send_many(_as_given(numbered(count), kind))
            assert len(results) == count and all(r.ok for r in results)
            assert len(workers_started) <= most
            workers_started.clear()
            async with client.stream_send(_as_given(numbered(count), kind)) as stream:
                assert [r.ok async for r in stream] == [True] * count
            assert len(workers_started) <= most
            workers_started.clear()
            iterated = [r.ok async for r in client.iter_send(_as_given(numbered(count), kind))]
            assert iterated == [True] * count
            assert len(workers_started) <= most


async def test_a_huge_max_concurrency_still_runs_batches_concurrently() -> None:
    gateway = ScriptedGateway(delay=0.02)
    async with gateway.client(batch_size=1, max_concurrency=10**6) as client:
        assert all(r.ok for r in await client.send_many(numbered(20)))
    assert gateway.max_in_flight > 1  # workers are added as batches come, not one at a time


async def test_leaving_a_stream_early_does_no_work_per_unit_of_max_concurrency() -> None:
    gateway = ScriptedGateway()
    async with gateway.client(batch_size=5, max_concurrency=10**6) as client:
        with anyio.fail_after(10):  # before: a million workers and a million releases
            async with client.stream_send(numbered(20)) as results:
                async for _ in results:
                    break
    sent = sum(len(batch) for batch in gateway.batches)
    assert len(results.leftover) == sent - 1 and all(r.ok for r in results.leftover)


def _interrupting_after(count: int, error: BaseException, raised: anyio.Event) -> Iterator[Message]:
    yield from numbered(count)
    raised.set()
    raise error


async def test_leaving_a_stream_before_it_raises_the_inputs_interrupt_does_not_swallow_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="mysms_async")
    raised = anyio.Event()
    gateway = ScriptedGateway(delay=0.01)
    async with gateway.client(batch_size=10, max_concurrency=4) as client:
        stream = client.stream_send(_interrupting_after(25, KeyboardInterrupt(), raised))
        with pytest.raises(KeyboardInterrupt) as caught:
            async with stream as results:
                async for _ in results:
                    await raised.wait()  # the input has raised; the stream has not said so yet
                    break
        assert (await client.send("79112223333", "still works")).ok
    assert caught.value.results == []  # type: ignore[attr-defined]
    leftover = stream.leftover
    assert [r.message.text for r in leftover] == [f"m{i}" for i in range(1, 25)]
    assert all(r.ok for r in leftover[:19])
    assert all(isinstance(r.error, InputError) for r in leftover[19:])  # read with it: not sent
    assert any("the stream's .leftover" in r.getMessage() for r in caplog.records)


async def test_closing_iter_send_before_it_raises_the_inputs_interrupt_does_not_swallow_it() -> (
    None
):
    raised = anyio.Event()
    async with ScriptedGateway().client(batch_size=10, max_concurrency=4) as client:
        iterator = client.iter_send(_interrupting_after(25, SystemExit(3), raised))
        with pytest.raises(SystemExit) as caught:
            async with contextlib.aclosing(iterator) as results:
                async for _ in results:
                    assert raised.is_set()  # a wave reads its chunks before handing any over
                    break
    assert caught.value.code == 3
    assert [r.message.text for r in iterator.leftover] == [f"m{i}" for i in range(1, 25)]
