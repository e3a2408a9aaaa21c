"""Control-flow faults against the emulator: what stops a bulk run from the caller's side.

The fault matrix proves the wire; this family proves the paths around it (issue 8): an
``AuthError`` at every position of a run, the caller's input failing at every position, a
request that cannot be built, ``aclose()`` at every await point, and asyncio cancellation
(``asyncio.wait_for``, ``asyncio.timeout``, ``task.cancel()``) at many deadlines. Every case
checks one invariant:

    every message the emulator accepted is reported accepted (with its id) or unknown, exactly
    once, in input order; nothing it did not accept is reported accepted; and the client (or a
    new one, after ``aclose()``) still sends.

"Reported" means what the caller can hold: ``send_many``'s return value or the raised error's
``.results``; what a stream yielded, plus the error's ``.results`` and the stream's
``leftover``. In process (``gateway.client()``) every await point is swept; over loopback
(``gateway.serve()``) a sample of them, with both engines.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from asyncio_compat import TIMEOUT_ERRORS, timeout
from fault_cases import SENDER, USERNAME
from fault_cases import make_gateway as make_fault_gateway

from mysms_async import (
    AuthError,
    ClientClosedError,
    DeliveryUnknownError,
    InputError,
    Message,
    MySMSClient,
    MySMSError,
    SendResult,
    ValidationError,
)
from mysms_async._constants import MAX_LOGGED_OUTCOMES
from mysms_async.testing import ErrorState, FakeGateway, Latency

COUNT = 30
BATCH = 5  # six requests per run
CONCURRENCY = 3
SEED = 20261128
DESTINATION = "79112223333"


def make_gateway() -> FakeGateway:
    """The fault tests' account, with money for the thousands of messages a sweep sends."""
    gateway = make_fault_gateway()
    gateway.set_balance(USERNAME, 10**9)
    return gateway


def messages(run: str, count: int = COUNT) -> list[Message]:
    """Texts unique across the whole test, so that the emulator's records say which was sent."""
    return [Message(DESTINATION, f"{run}-{i}") for i in range(count)]


@dataclass
class Report:
    """What the caller of one run could hold at the end of it."""

    sent: list[Message]
    reported: list[SendResult] = field(default_factory=list)
    error: BaseException | None = None


def check(gateway: FakeGateway, report: Report) -> None:
    """The invariant, for the messages of one run."""
    texts = {m.text for m in report.sent}
    accepted = {m.text: m.id for m in gateway.messages.values() if m.text in texts}
    reported = report.reported
    # One outcome per message read, in input order, none twice.
    assert [r.message for r in reported] == report.sent[: len(reported)]
    for result in reported:
        text = result.message.text
        if result.ok:
            assert accepted.get(text) == result.id, f"{text} reported accepted, gateway: no"
        elif text in accepted:
            assert isinstance(result.error, DeliveryUnknownError), (
                f"{text} was accepted by the gateway but reported {result!r}"
            )
    missing = set(accepted) - {r.message.text for r in reported}
    assert not missing, f"accepted but never reported: {sorted(missing)}"


async def still_sends(client: MySMSClient, text: str) -> None:
    result = await client.send(DESTINATION, text)
    assert result.ok and result.id


# --- the three ways to run, each collecting what the caller could hold -----------------------


async def run_send_many(client: MySMSClient, sent: Sequence[Message] | Any, report: Report) -> None:
    try:
        report.reported = await client.send_many(sent)
    except MySMSError as error:
        report.error = error
        report.reported = error.results


async def run_iter_send(client: MySMSClient, sent: Any, report: Report) -> None:
    iterator = client.iter_send(sent)
    try:
        async for result in iterator:
            report.reported.append(result)
    except MySMSError as error:
        report.error = error
        report.reported.extend(error.results)
    finally:
        await iterator.aclose()
        report.reported.extend(iterator.leftover)


async def run_stream_send(client: MySMSClient, sent: Any, report: Report) -> None:
    stream = client.stream_send(sent)
    try:
        async with stream as results:
            async for result in results:
                report.reported.append(result)
    except MySMSError as error:
        report.error = error
        report.reported.extend(error.results)
    finally:
        report.reported.extend(stream.leftover)


RUNNERS: dict[str, Callable[[MySMSClient, Any, Report], Awaitable[None]]] = {
    "send_many": run_send_many,
    "iter_send": run_iter_send,
    "stream_send": run_stream_send,
}


def in_process(gateway: FakeGateway, **kwargs: Any) -> MySMSClient:
    options: dict[str, Any] = {
        "batch_size": BATCH,
        "max_concurrency": CONCURRENCY,
        "retry_backoff": 0,
        "sender": SENDER,
    }
    options.update(kwargs)
    return gateway.client(**options)


# --- mid-run AuthError at every position -----------------------------------------------------


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("position", range(COUNT // BATCH))
async def test_auth_error_at_every_request_position(runner: str, position: int) -> None:
    gateway = make_gateway()
    if position:
        gateway.inject(Latency(0), endpoint="send", times=position)  # let `position` requests by
    gateway.inject(ErrorState(-1), endpoint="send")
    report = Report(messages(f"auth{position}{runner}"))
    async with in_process(gateway) as client:
        await RUNNERS[runner](client, report.sent, report)
        await still_sends(client, f"after-auth{position}{runner}")
    assert isinstance(report.error, AuthError)
    check(gateway, report)
    # Every message read has its outcome: nothing was dropped on the way to the error.
    assert len(report.reported) == len({r.message.text for r in report.reported})
    assert any(isinstance(r.error, AuthError) for r in report.reported)


# --- the caller's input fails at every position ----------------------------------------------


def _failing(sent: list[Message], at: int) -> Iterator[Message]:
    yield from sent[:at]
    raise LookupError(f"row {at} is unreadable")


async def _failing_async(sent: list[Message], at: int) -> AsyncIterator[Message]:
    for message in sent[:at]:
        yield message
    raise LookupError(f"row {at} is unreadable")


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_input_error_at_every_position(runner: str, kind: str) -> None:
    gateway = make_gateway()
    async with in_process(gateway) as client:
        for at in range(0, COUNT + 1, 2):
            sent = messages(f"input{at}{kind}{runner}")
            source = _failing(sent, at) if kind == "sync" else _failing_async(sent, at)
            report = Report(sent[:at])
            await RUNNERS[runner](client, source, report)
            assert isinstance(report.error, InputError)
            assert isinstance(report.error.__cause__, LookupError)
            check(gateway, report)
            assert len(report.reported) == at  # every message read has an outcome
        await still_sends(client, f"after-input{kind}{runner}")


# --- the caller's input raises a BaseException that is not cancellation ----------------------


class OwnInterrupt(BaseException):
    """A caller's own ``BaseException`` subclass (as a framework's shutdown signal might be)."""


INTERRUPTS: dict[str, type[BaseException]] = {
    "KeyboardInterrupt": KeyboardInterrupt,
    "own": OwnInterrupt,
}


def _interrupting(sent: list[Message], at: int, error: BaseException) -> Iterator[Message]:
    yield from sent[:at]
    raise error


async def _interrupting_async(
    sent: list[Message], at: int, error: BaseException
) -> AsyncIterator[Message]:
    for message in sent[:at]:
        yield message
    raise error


async def run_interrupted(
    client: MySMSClient, runner: str, kind: str, interrupt: str, sent: list[Message], at: int
) -> Report:
    """One run whose input raises ``interrupt`` after ``at`` messages; the exception must come
    out as itself (``except KeyboardInterrupt:`` matches), never wrapped in a group."""
    error = INTERRUPTS[interrupt](f"stop after {at}")
    source = (
        _interrupting(sent, at, error) if kind == "sync" else _interrupting_async(sent, at, error)
    )
    report = Report(sent[:at])
    try:
        await RUNNERS[runner](client, source, report)
    except BaseException as caught:  # the exception under test, checked below
        report.error = caught
    assert report.error is error, f"{report.error!r} is not the input's own exception"
    results = getattr(error, "results", None)
    if runner == "send_many":
        assert results is not None, "send_many's outcomes are not on the exception"
        report.reported = results
    else:
        assert results == []  # a stream yielded every outcome before raising
    return report


def check_interrupted(gateway: FakeGateway, report: Report, at: int) -> None:
    check(gateway, report)
    assert len(report.reported) == at  # every message read has an outcome, once
    # The chunks read whole went out and their requests finished (nothing cut off in flight);
    # the messages read with the exception were never sent.
    whole = at - at % BATCH
    assert all(r.ok for r in report.reported[:whole]), report.reported[:whole]
    assert all(isinstance(r.error, InputError) for r in report.reported[whole:])


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("interrupt", INTERRUPTS)
async def test_a_base_exception_from_the_input_is_raised_as_itself_with_the_outcomes(
    runner: str, kind: str, interrupt: str
) -> None:
    gateway = make_gateway()
    async with in_process(gateway) as client:
        for at in range(0, COUNT + 1, 3):
            sent = messages(f"interrupt{at}{kind}{interrupt}{runner}")
            report = await run_interrupted(client, runner, kind, interrupt, sent, at)
            check_interrupted(gateway, report, at)
        await still_sends(client, f"after-interrupt{kind}{interrupt}{runner}")


# --- a request that cannot be built ---------------------------------------------------------


class _Unbuildable:
    """The client's builder, except that a request holding ``poison`` raises a foreign error."""

    def __init__(self, real: Any, poison: str, error: Exception) -> None:
        self._real, self._poison, self._error = real, poison, error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def send(self, wires: Sequence[Any]) -> Any:
        if any(wire.text == self._poison for wire in wires):
            raise self._error
        return self._real.send(wires)


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize(
    "error",
    [TypeError("Encoding objects of type X is unsupported"), ValueError("bad"), KeyError(1)],
)
async def test_builder_error_at_every_position(runner: str, error: Exception) -> None:
    gateway = make_gateway()
    async with in_process(gateway) as client:
        real = client._ops.builder
        for at in range(0, COUNT, 3):
            sent = messages(f"build{at}{type(error).__name__}{runner}")
            client._ops.builder = _Unbuildable(real, sent[at].text, error)  # type: ignore[assignment]
            report = Report(sent)
            await RUNNERS[runner](client, sent, report)
            assert report.error is None
            check(gateway, report)
            assert len(report.reported) == COUNT
            assert isinstance(report.reported[at].error, ValidationError)
            assert all(r.ok for i, r in enumerate(report.reported) if i != at)
        client._ops.builder = real
        await still_sends(client, f"after-build{type(error).__name__}{runner}")


# --- aclose() at every await point -----------------------------------------------------------


async def _close_after(client: MySMSClient, turns: int) -> None:
    for _ in range(turns):
        await asyncio.sleep(0)
    await client.aclose()


@pytest.mark.parametrize("runner", RUNNERS)
async def test_aclose_at_every_await_point(runner: str) -> None:
    gateway = make_gateway()
    stopped = 0
    for turns in range(40):  # in process, a whole run takes a dozen or so turns of the loop
        client = in_process(gateway)
        report = Report(messages(f"close{turns}{runner}"))
        closer = asyncio.ensure_future(_close_after(client, turns))
        await RUNNERS[runner](client, report.sent, report)
        await closer
        if report.error is not None:
            stopped += 1
            assert isinstance(report.error, ClientClosedError)
        check(gateway, report)
        with pytest.raises(ClientClosedError):
            await client.send(DESTINATION, "closed")
    assert stopped >= 3  # the sweep really landed inside runs
    async with in_process(gateway) as fresh:
        await still_sends(fresh, f"after-close{runner}")


# --- asyncio cancellation at many deadlines --------------------------------------------------


async def _cancel_after_turns(call: Awaitable[None], turns: int) -> None:
    task = asyncio.ensure_future(call)
    for _ in range(turns):
        if task.done():
            break
        await asyncio.sleep(0)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _with_timeout(call: Awaitable[None], seconds: float) -> None:
    try:
        async with timeout(seconds):
            await call
    except TimeoutError:
        pass


async def _wait_for(call: Awaitable[None], seconds: float) -> None:
    with contextlib.suppress(*TIMEOUT_ERRORS):
        await asyncio.wait_for(call, seconds)


@pytest.mark.parametrize("runner", ["iter_send", "stream_send"])
async def test_cancellation_sweep_in_process(runner: str) -> None:
    gateway = make_gateway()
    rng = random.Random(SEED)
    async with in_process(gateway) as client:
        for case in range(60):
            report = Report(messages(f"cancel{case}{runner}"))
            call = RUNNERS[runner](client, report.sent, report)
            how = case % 3
            if how == 0:
                await _cancel_after_turns(call, rng.randrange(0, 200))
            elif how == 1:
                await _with_timeout(call, rng.uniform(0, 0.01))
            else:
                await _wait_for(call, rng.uniform(0, 0.01))
            check(gateway, report)
        await still_sends(client, f"after-cancel{runner}")


def _logged_outcomes(logged: str) -> tuple[int, list[str], int]:
    """From a not-handed-over WARNING: the accepted count, the ids it names, the unknown count."""
    found = re.search(r"(\d+) accepted \(ids: ([^)]*)\), (\d+) of unknown delivery", logged)
    assert found, logged
    named = found.group(2).split(" and ")[0]
    ids = [] if named == "none" else named.split(", ")
    return int(found.group(1)), ids, int(found.group(3))


async def test_cancelled_send_many_counts_every_accepted_id_it_could_not_return(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("WARNING", logger="mysms_async")
    gateway = make_gateway()
    rng = random.Random(SEED)
    async with in_process(gateway) as client:
        for case in range(60):
            caplog.clear()
            sent = messages(f"cancel-many{case}")
            report = Report(sent)
            await _cancel_after_turns(run_send_many(client, sent, report), rng.randrange(1, 150))
            if report.reported:
                check(gateway, report)  # it finished before the cancel
                continue
            texts = {m.text for m in sent}
            accepted = {m.id for m in gateway.messages.values() if m.text in texts}
            warned = [r.getMessage() for r in caplog.records if "send_many" in r.getMessage()]
            if not warned:  # cancelled before any request: nothing to name
                assert not accepted
                continue
            (logged,) = warned
            counted, named, unknown = _logged_outcomes(logged)
            # Every accepted message is counted (accepted, or unknown if cut off in flight); the
            # line names the first of them, never more than the bound, and none it did not get.
            assert set(named) <= accepted, logged
            assert len(named) == min(counted, MAX_LOGGED_OUTCOMES), logged
            assert counted <= len(accepted) <= counted + unknown, logged
        await still_sends(client, "after-cancel-many")


# --- over a real socket, both engines --------------------------------------------------------


@pytest.mark.parametrize("runner", RUNNERS)
async def test_control_flow_over_loopback(
    served: tuple[FakeGateway, str], backend: str, runner: str
) -> None:
    gateway, base_url = served
    gateway.set_balance(USERNAME, 10**9)
    rng = random.Random(SEED)

    def client() -> MySMSClient:
        return in_process(gateway, base_url=base_url, transport=None, backend=backend)

    async with client() as sms:
        # An AuthError in the middle.
        gateway.inject(Latency(0), endpoint="send", times=2)
        gateway.inject(ErrorState(-1), endpoint="send")
        report = Report(messages(f"lo-auth{backend}{runner}"))
        await RUNNERS[runner](sms, report.sent, report)
        assert isinstance(report.error, AuthError)
        check(gateway, report)
        # The input failing half-way.
        sent = messages(f"lo-input{backend}{runner}")
        report = Report(sent[:17])
        await RUNNERS[runner](sms, _failing(sent, 17), report)
        assert isinstance(report.error, InputError)
        check(gateway, report)
        # Cancellation at a few deadlines (streams only: send_many cannot hand results back).
        if runner != "send_many":
            for case in range(12):
                report = Report(messages(f"lo-cancel{case}{backend}{runner}"))
                await _wait_for(RUNNERS[runner](sms, report.sent, report), rng.uniform(0, 0.03))
                check(gateway, report)
        # The input raising a BaseException half-way: raised as itself, the outcomes kept.
        for kind in ("sync", "async"):
            for interrupt in INTERRUPTS:
                sent = messages(f"lo-interrupt{kind}{interrupt}{backend}{runner}")
                report = await run_interrupted(sms, runner, kind, interrupt, sent, 17)
                check_interrupted(gateway, report, 17)
        await still_sends(sms, f"lo-after{backend}{runner}")
    # aclose() part-way through a run.
    for turns in (5, 20, 60):
        sms = client()
        report = Report(messages(f"lo-close{turns}{backend}{runner}"))
        closer = asyncio.ensure_future(_close_after(sms, turns))
        await RUNNERS[runner](sms, report.sent, report)
        await closer
        assert report.error is None or isinstance(report.error, ClientClosedError)
        check(gateway, report)


# --- a huge max_concurrency over a real socket: no work per unit of the setting ------------


async def test_a_huge_max_concurrency_over_loopback_does_work_per_batch_only(
    served: tuple[FakeGateway, str], backend: str
) -> None:
    """The bulk workers, the engine's connection pool and the in-flight limiter with the rate
    limiter on: two messages at a million take what they take at four (before: 96 s)."""
    gateway, base_url = served
    gateway.set_balance(USERNAME, 10**9)
    options: dict[str, Any] = {"base_url": base_url, "transport": None, "backend": backend}
    async with in_process(gateway, max_concurrency=10**6, rate_limit=1000, **options) as sms:
        with anyio.fail_after(10):
            for runner in RUNNERS:
                report = Report(messages(f"huge{backend}{runner}", 2 * BATCH))
                await RUNNERS[runner](sms, report.sent, report)
                assert report.error is None and len(report.reported) == 2 * BATCH
                assert all(r.ok for r in report.reported)
                check(gateway, report)
        await still_sends(sms, f"after-huge{backend}")
