"""Retry rules: status and balance retry any transient failure; a send retries only what provably
never reached the gateway. Backoff and ``Retry-After`` are unit-tested with an injected random
fraction, and observed end to end through a recording ``sleep``."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest
import respx
from core_helpers import make_client

from mysms_async import (
    DeliveryUnknownError,
    GatewayError,
    MessageState,
    MySMSClient,
    ResponseError,
    TransportError,
)
from mysms_async import _transport as transport_module
from mysms_async._retry import Backoff, Failure, Outcome, parse_retry_after, should_retry

BASE_URL = "https://my-sms.ru/rest/sms/"
OK_BATCH = {"state": "0", "data": [{"id": "id-1", "state": "2"}]}
OK_BALANCE = {"state": "0", "balance": "10,00"}


@pytest.fixture
def gw() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        yield router


class _RecordingAnyio:
    """Stands in for the ``anyio`` module inside ``_transport``: records sleeps, never waits."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        await anyio.lowlevel.checkpoint()

    def __getattr__(self, name: str) -> Any:
        return getattr(anyio, name)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    fake = _RecordingAnyio()
    monkeypatch.setattr(transport_module, "anyio", fake)
    return fake.sleeps


async def call(client: MySMSClient, operation: str) -> Any:
    if operation == "send":
        return await client.send("79112223333", "Hi")
    if operation == "status":
        return await client.status("id-1")
    return await client.balance()


def ok_answer(operation: str) -> httpx.Response:
    return httpx.Response(200, json=OK_BALANCE if operation == "credit" else OK_BATCH)


# ---------------------------------------------------------------------------------------------
# status and balance: every transient failure is retried

TRANSIENT: list[tuple[str, Any, type[Exception]]] = [
    ("connect error", httpx.ConnectError("refused"), TransportError),
    ("connect timeout", httpx.ConnectTimeout("slow connect"), TransportError),
    ("pool timeout", httpx.PoolTimeout("pool"), TransportError),
    ("read timeout", httpx.ReadTimeout("slow read"), TransportError),
    ("read error", httpx.ReadError("reset"), TransportError),
    ("dropped", httpx.RemoteProtocolError("Server disconnected"), TransportError),
    ("http 500", httpx.Response(500), ResponseError),
    ("http 502", httpx.Response(502), ResponseError),
    ("http 503", httpx.Response(503), ResponseError),
    ("http 504", httpx.Response(504), ResponseError),
    ("http 429", httpx.Response(429), ResponseError),
    ("state -50", httpx.Response(200, json={"state": "-50"}), GatewayError),
    ("state -51", httpx.Response(200, json={"state": "-51"}), GatewayError),
    ("state -52", httpx.Response(200, json={"state": "-52"}), GatewayError),
]


@pytest.mark.parametrize("operation", ["status", "credit"])
@pytest.mark.parametrize(
    ("failure", "error"), [(f, e) for _, f, e in TRANSIENT], ids=[n for n, _, _ in TRANSIENT]
)
async def test_idempotent_calls_retry_then_raise(
    gw: respx.MockRouter, operation: str, failure: Any, error: type[Exception]
) -> None:
    route = gw.post(f"{operation}/json").mock(side_effect=[failure] * 3)
    async with make_client(max_retries=2) as client:
        with pytest.raises(error) as caught:
            await call(client, operation)
    assert route.call_count == 3  # 1 + max_retries
    assert not isinstance(caught.value, DeliveryUnknownError)


@pytest.mark.parametrize("operation", ["status", "credit"])
@pytest.mark.parametrize("failure", [f for _, f, _ in TRANSIENT], ids=[n for n, _, _ in TRANSIENT])
async def test_idempotent_calls_succeed_after_one_failure(
    gw: respx.MockRouter, operation: str, failure: Any
) -> None:
    route = gw.post(f"{operation}/json").mock(side_effect=[failure, ok_answer(operation)])
    async with make_client(max_retries=2) as client:
        result = await call(client, operation)
    assert route.call_count == 2
    if operation == "status":
        assert result.state is MessageState.QUEUED
    else:
        assert str(result.amount) == "10.00"


@pytest.mark.parametrize("max_retries", [0, 1, 4])
async def test_max_retries_bounds_the_calls(gw: respx.MockRouter, max_retries: int) -> None:
    route = gw.post("status/json").mock(side_effect=httpx.ConnectError("refused"))
    async with make_client(max_retries=max_retries) as client:
        with pytest.raises(TransportError):
            await client.status("id-1")
    assert route.call_count == 1 + max_retries


async def test_max_retries_zero_is_one_call_even_for_a_send(gw: respx.MockRouter) -> None:
    route = gw.post("send/json").mock(
        side_effect=[httpx.ConnectError("refused"), ok_answer("send")]
    )
    async with make_client(max_retries=0) as client:
        with pytest.raises(TransportError):
            await client.send("79112223333", "Hi")
    assert route.call_count == 1


NOT_RETRIED: list[tuple[str, httpx.Response]] = [
    ("state -1", httpx.Response(200, json={"state": "-1"})),
    ("state -7", httpx.Response(200, json={"state": "-7"})),
    ("http 400", httpx.Response(400)),
    ("http 404", httpx.Response(404)),
    ("html", httpx.Response(200, text="<html>maintenance</html>")),
]


@pytest.mark.parametrize("answer", [a for _, a in NOT_RETRIED], ids=[n for n, _ in NOT_RETRIED])
async def test_permanent_failures_are_not_retried(
    gw: respx.MockRouter, answer: httpx.Response
) -> None:
    route = gw.post("status/json").mock(side_effect=[answer, ok_answer("status")])
    async with make_client(max_retries=3) as client:
        with pytest.raises(Exception) as caught:  # noqa: PT011 - each case has its own type
            await client.status("id-1")
    assert route.call_count == 1
    assert type(caught.value).__module__ == "mysms_async._exceptions"


# ---------------------------------------------------------------------------------------------
# send: retried only when the request provably never reached the gateway

NEVER_SENT: list[tuple[str, Any]] = [
    ("connect error", httpx.ConnectError("refused")),
    ("connect timeout", httpx.ConnectTimeout("slow connect")),
    ("pool timeout", httpx.PoolTimeout("pool")),
    ("http 429", httpx.Response(429)),
    ("http 429 retry-after 0", httpx.Response(429, headers={"retry-after": "0"})),
]


@pytest.mark.parametrize("failure", [f for _, f in NEVER_SENT], ids=[n for n, _ in NEVER_SENT])
async def test_send_is_retried_when_it_never_reached_the_gateway(
    gw: respx.MockRouter, failure: Any
) -> None:
    route = gw.post("send/json").mock(side_effect=[failure, ok_answer("send")])
    async with make_client(max_retries=2) as client:
        result = await client.send("79112223333", "Hi")
    assert route.call_count == 2
    assert result.id == "id-1"
    assert result.ok


async def test_send_429_every_time_ends_in_a_response_error(gw: respx.MockRouter) -> None:
    route = gw.post("send/json").mock(side_effect=[httpx.Response(429)] * 3)
    async with make_client(max_retries=2) as client:
        with pytest.raises(ResponseError) as caught:
            await client.send("79112223333", "Hi")
    assert route.call_count == 3
    assert caught.value.status_code == 429
    # 429 executes nothing: the outcome is known (nothing was sent).
    assert not isinstance(caught.value, DeliveryUnknownError)


MAYBE_SENT: list[tuple[str, Any]] = [
    ("dropped after write", httpx.RemoteProtocolError("Server disconnected")),
    ("read timeout", httpx.ReadTimeout("slow read")),
    ("read error", httpx.ReadError("connection reset by peer")),
    ("write error", httpx.WriteError("broken pipe")),
    ("write timeout", httpx.WriteTimeout("slow write")),
    ("http 500", httpx.Response(500)),
    ("http 502", httpx.Response(502)),
    ("http 503", httpx.Response(503, headers={"retry-after": "0"})),
    ("garbage 200", httpx.Response(200, content=b"\x00\xff garbage")),
]


@pytest.mark.parametrize("failure", [f for _, f in MAYBE_SENT], ids=[n for n, _ in MAYBE_SENT])
async def test_send_that_may_have_arrived_is_called_exactly_once(
    gw: respx.MockRouter, failure: Any
) -> None:
    # A retry would succeed: only the rule keeps it from happening.
    route = gw.post("send/json").mock(side_effect=[failure, ok_answer("send")])
    async with make_client(max_retries=5) as client:
        with pytest.raises(DeliveryUnknownError) as caught:
            await client.send("79112223333", "Hi")
    assert route.call_count == 1
    assert len(caught.value.messages) == 1


@pytest.mark.parametrize("state", ["-50", "-51", "-52"])
async def test_send_with_an_internal_error_state_is_called_once(
    gw: respx.MockRouter, state: str
) -> None:
    route = gw.post("send/json").mock(
        side_effect=[httpx.Response(200, json={"state": state}), ok_answer("send")]
    )
    async with make_client(max_retries=5) as client:
        with pytest.raises(GatewayError) as caught:
            await client.send("79112223333", "Hi")
    assert route.call_count == 1
    assert caught.value.state == int(state)


UNDOCUMENTED_STATES = [1, -2, 7, 99, 2**70]


@pytest.mark.parametrize("with_data", [False, True], ids=["no-data", "data-lists-an-id"])
@pytest.mark.parametrize("state", UNDOCUMENTED_STATES)
async def test_a_send_answered_with_an_undocumented_request_state_is_unknown(
    gw: respx.MockRouter, state: int, with_data: bool
) -> None:
    """Issue 8, item 5: only -1 and -50..-52 say what happened. Any other non-zero state (even
    with ``data`` listing an accepted id) leaves the gateway's word unclear: the message may
    have been accepted, so it is unknown, never "failed, not sent", and it is not resent."""
    answer: dict[str, Any] = {"state": str(state)}
    if with_data:
        answer["data"] = [{"id": "id-1", "state": "2"}]
    route = gw.post("send/json").mock(
        side_effect=[httpx.Response(200, json=answer), ok_answer("send")]
    )
    async with make_client(max_retries=5) as client:
        with pytest.raises(DeliveryUnknownError) as caught:
            await client.send("79112223333", "Hi")
    assert route.call_count == 1
    assert [m.text for m in caught.value.messages] == ["Hi"]
    assert f"request state {state}" in str(caught.value)


@pytest.mark.parametrize("operation", ["status", "credit"])
@pytest.mark.parametrize("state", UNDOCUMENTED_STATES)
async def test_status_and_balance_with_an_undocumented_request_state_are_gateway_errors(
    gw: respx.MockRouter, state: int, operation: str
) -> None:
    route = gw.post(f"{operation}/json").mock(
        side_effect=[httpx.Response(200, json={"state": str(state)}), ok_answer(operation)]
    )
    async with make_client(max_retries=5) as client:
        with pytest.raises(GatewayError) as caught:
            await call(client, "status" if operation == "status" else "balance")
    assert type(caught.value) is GatewayError and caught.value.state == state
    assert route.call_count == 1  # an undocumented state is not known to be transient


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_the_send_rule_holds_for_every_send_endpoint(
    gw: respx.MockRouter, method: str, fmt: str
) -> None:
    route = gw.route(url__startswith=f"{BASE_URL}send/{fmt}").mock(
        side_effect=[httpx.ReadTimeout("slow"), ok_answer("send")]
    )
    async with make_client(max_retries=5, http_method=method, wire_format=fmt) as client:
        with pytest.raises(DeliveryUnknownError):
            await client.send("79112223333", "Hi")
    assert route.call_count == 1


# ---------------------------------------------------------------------------------------------
# Backoff and Retry-After, observed through the sleeps the client asks for


async def test_retry_backoff_zero_never_sleeps(gw: respx.MockRouter, sleeps: list[float]) -> None:
    gw.post("status/json").mock(side_effect=[httpx.Response(503)] * 2 + [ok_answer("status")])
    async with make_client(max_retries=2, retry_backoff=0) as client:
        await client.status("id-1")
    assert sleeps == [0.0, 0.0]


async def test_backoff_grows_exponentially_with_bounded_jitter(
    gw: respx.MockRouter, sleeps: list[float]
) -> None:
    gw.post("credit/json").mock(side_effect=httpx.ConnectError("refused"))
    async with make_client(max_retries=4, retry_backoff=dt.timedelta(seconds=1)) as client:
        with pytest.raises(TransportError):
            await client.balance()
    assert len(sleeps) == 4
    for number, delay in enumerate(sleeps, start=1):
        base = 2.0 ** (number - 1)
        assert base * 0.75 <= delay <= base


async def test_retry_after_is_honoured_when_longer(
    gw: respx.MockRouter, sleeps: list[float]
) -> None:
    route = gw.post("status/json").mock(
        side_effect=[httpx.Response(503, headers={"retry-after": "7"}), ok_answer("status")]
    )
    async with make_client(max_retries=2, retry_backoff=0.1) as client:
        await client.status("id-1")
    assert route.call_count == 2
    assert sleeps == [7.0]


async def test_retry_after_as_an_http_date(gw: respx.MockRouter, sleeps: list[float]) -> None:
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30)
    header = when.strftime("%a, %d %b %Y %H:%M:%S GMT")
    gw.post("send/json").mock(
        side_effect=[httpx.Response(429, headers={"retry-after": header}), ok_answer("send")]
    )
    async with make_client(max_retries=2) as client:
        await client.send("79112223333", "Hi")
    (delay,) = sleeps
    assert 25 <= delay <= 31


async def test_429_with_retry_after_zero_is_retried_without_waiting(
    gw: respx.MockRouter, sleeps: list[float]
) -> None:
    route = gw.post("credit/json").mock(
        side_effect=[httpx.Response(429, headers={"retry-after": "0"}), ok_answer("credit")]
    )
    async with make_client(max_retries=1, retry_backoff=0) as client:
        balance = await client.balance()
    assert route.call_count == 2
    assert sleeps == [0.0]
    assert str(balance.amount) == "10.00"


async def test_429_with_retry_after_zero_really_retries(gw: respx.MockRouter) -> None:
    """The same, with the real sleep: nothing waits, the test finishes at once."""
    route = gw.post("send/json").mock(
        side_effect=[httpx.Response(429, headers={"retry-after": "0"}), ok_answer("send")]
    )
    async with make_client(max_retries=1, retry_backoff=0) as client:
        with anyio.fail_after(2):
            result = await client.send("79112223333", "Hi")
    assert route.call_count == 2
    assert result.ok


@pytest.mark.parametrize("operation", ["send", "status", "credit"])
async def test_a_retry_after_beyond_the_maximum_is_not_waited_for(
    gw: respx.MockRouter, sleeps: list[float], operation: str
) -> None:
    route = gw.post(f"{operation}/json").mock(
        side_effect=[httpx.Response(429, headers={"retry-after": "3600"}), ok_answer(operation)]
    )
    async with make_client(max_retries=3) as client:
        with pytest.raises(ResponseError) as caught:
            await call(client, operation)
    assert route.call_count == 1
    assert sleeps == []
    assert caught.value.status_code == 429
    assert caught.value.retry_after == 3600.0


# ---------------------------------------------------------------------------------------------
# Unit tests of the pieces


def zero() -> float:
    return 0.0


def one() -> float:
    return 1.0


def test_backoff_doubles_each_retry_up_to_the_cap() -> None:
    backoff = Backoff(first_delay=0.5, max_delay=30.0, jitter=0.25)
    delays = [backoff.delay(n, random_fraction=zero) for n in range(1, 10)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_backoff_jitter_takes_at_most_its_share_off() -> None:
    backoff = Backoff(first_delay=0.5, max_delay=30.0, jitter=0.25)
    assert backoff.delay(1, random_fraction=one) == pytest.approx(0.375)
    assert backoff.delay(3, random_fraction=one) == pytest.approx(1.5)
    assert backoff.delay(12, random_fraction=one) == pytest.approx(22.5)
    assert backoff.delay(2, random_fraction=lambda: 0.5) == pytest.approx(0.875)


def test_backoff_with_the_real_random_stays_in_bounds_and_varies() -> None:
    backoff = Backoff(first_delay=1.0)
    rng = random.Random(1234)
    delays = [backoff.delay(3, random_fraction=rng.random) for _ in range(500)]
    assert all(d is not None and 3.0 <= d <= 4.0 for d in delays)
    assert len(set(delays)) > 100  # jittered, not one fixed value


def test_backoff_cap_holds_for_a_very_late_retry() -> None:
    backoff = Backoff(first_delay=0.5, max_delay=30.0)
    assert backoff.delay(100, random_fraction=zero) == 30.0
    assert backoff.delay(5000, random_fraction=zero) == 30.0


def test_retry_after_wins_only_when_longer() -> None:
    backoff = Backoff(first_delay=0.5, max_delay=30.0, jitter=0.25, max_retry_after=60.0)
    assert backoff.delay(1, 5.0, random_fraction=zero) == 5.0
    assert backoff.delay(4, 1.0, random_fraction=zero) == 4.0  # backoff longer: backoff wins
    assert backoff.delay(1, 0.0, random_fraction=zero) == 0.5
    assert backoff.delay(1, 60.0, random_fraction=zero) == 60.0  # at the limit: still waited
    assert backoff.delay(1, 60.5, random_fraction=zero) is None  # beyond: do not retry
    assert backoff.delay(1, 3600.0, random_fraction=one) is None


def test_zero_backoff_is_zero() -> None:
    backoff = Backoff(first_delay=0.0)
    assert [backoff.delay(n, random_fraction=one) for n in (1, 2, 10)] == [0.0, 0.0, 0.0]
    assert backoff.delay(3, 2.0, random_fraction=zero) == 2.0


NOW = dt.datetime(2026, 11, 24, 18, 30, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("0", 0.0),
        ("120", 120.0),
        (" 7 ", 7.0),
        ("Tue, 24 Nov 2026 18:30:30 GMT", 30.0),
        ("Tue, 24 Nov 2026 21:31:00 +0300", 60.0),
        ("Tue, 24 Nov 2026 18:29:00 GMT", 0.0),  # in the past: no wait
        ("soon", None),
        ("", None),
        ("-5", None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


def test_should_retry_predicate() -> None:
    never_sent = Failure(Outcome.NOT_SENT)
    # Issue 14 item 7: not sent, and no retry can help (HTTP 404/405: a wrong base URL).
    never_sent_permanent = Failure(Outcome.NOT_SENT_FINAL)
    maybe_transient = Failure(Outcome.MAYBE_SENT)
    maybe_permanent = Failure(Outcome.MAYBE_SENT_FINAL)
    # -50..-52: not executed, yet a send is not resent on the gateway's word alone.
    not_executed = Failure(Outcome.NOT_EXECUTED)
    assert not should_retry(not_executed, idempotent=False)
    assert should_retry(not_executed, idempotent=True)
    assert should_retry(never_sent, idempotent=False)
    assert should_retry(never_sent, idempotent=True)
    assert not should_retry(never_sent_permanent, idempotent=False)
    assert not should_retry(never_sent_permanent, idempotent=True)
    assert should_retry(maybe_transient, idempotent=True)
    assert not should_retry(maybe_transient, idempotent=False)
    assert not should_retry(maybe_permanent, idempotent=True)
    assert not should_retry(maybe_permanent, idempotent=False)
