"""The bulk engine: one outcome per message, in input order, whatever happens to each batch."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator

import anyio
import pytest
from scripted_gateway import AUTH, DROP, HTTP500, REFUSED_DESTINATION, SLOW, ScriptedGateway

from mysms_async import (
    AuthError,
    DeliveryUnknownError,
    InputError,
    Message,
    MessageState,
    ResponseError,
    ValidationError,
)


def numbered(count: int, *, special: dict[int, str] | None = None) -> list[Message]:
    special = special or {}
    return [
        Message("79112220000", f"m{i}" + (f" {special[i]}" if i in special else ""))
        for i in range(count)
    ]


async def test_mixed_outcomes_give_one_result_per_message_in_input_order() -> None:
    gateway = ScriptedGateway()
    messages = numbered(12, special={4: DROP, 7: HTTP500})
    messages[1] = Message(REFUSED_DESTINATION, "refused")
    messages[9] = Message("123", "invalid destination")  # never reaches the wire
    messages[10] = Message("79112220000", "")  # empty text: invalid
    async with gateway.client(batch_size=3, max_concurrency=2) as client:
        results = await client.send_many(messages)

    assert [r.message for r in results] == messages
    # batch 0 (0,1,2): accepted, refused, accepted
    assert results[0].ok and results[0].id == "id-m0"
    assert results[1].state == MessageState.INVALID_DESTINATION and not results[1].ok
    assert results[1].id is None and results[1].error is None
    # batch 1 (3,4,5): dropped after being read -> unknown for all three, sent once
    for r in results[3:6]:
        assert isinstance(r.error, DeliveryUnknownError) and not r.ok
        assert r.error.messages == tuple(messages[3:6])
    # batch 2 (6,7,8): HTTP 500 on a send -> unknown, not resent
    for r in results[6:9]:
        assert isinstance(r.error, DeliveryUnknownError)
        assert r.error.status_code == 500
    # batch 3 (9,10,11): two invalid messages fail alone; their batch-mate is still sent
    assert isinstance(results[9].error, ValidationError) and results[9].error.field == "destination"
    assert isinstance(results[10].error, ValidationError) and results[10].error.field == "text"
    assert results[11].ok and results[11].id == "id-m11"
    # Each batch reached the gateway exactly once; invalid messages never did.
    sent_texts = [entry["text"] for batch in gateway.batches for entry in batch]
    assert sorted(sent_texts) == sorted(m.text for i, m in enumerate(messages) if i not in (9, 10))
    assert len(gateway.batches) == 4


async def test_iter_send_gives_the_same_outcomes_as_send_many() -> None:
    messages = numbered(10, special={4: DROP})
    messages[8] = Message("12", "bad")
    async with ScriptedGateway().client(max_concurrency=2) as client:
        listed = await client.send_many(messages)
    async with ScriptedGateway().client(max_concurrency=2) as client:
        streamed = [r async for r in client.iter_send(messages)]
    assert [r.message for r in streamed] == messages
    assert [(r.id, r.state, type(r.error)) for r in streamed] == [
        (r.id, r.state, type(r.error)) for r in listed
    ]


async def test_only_valid_messages_are_batched_and_an_all_invalid_chunk_sends_nothing() -> None:
    gateway = ScriptedGateway()
    messages = [Message("1", "x"), Message("2", "y"), Message("3", "z"), *numbered(2)]
    async with gateway.client(batch_size=3) as client:
        results = await client.send_many(messages)
    assert all(isinstance(r.error, ValidationError) for r in results[:3])
    assert [r.ok for r in results[3:]] == [True, True]
    assert len(gateway.batches) == 1


async def test_a_non_message_item_gets_a_failed_result_instead_of_stopping_the_run() -> None:
    async with ScriptedGateway().client() as client:
        results = await client.send_many([("79112223333", "tuple"), *numbered(1)])  # type: ignore[list-item]
    assert isinstance(results[0].error, ValidationError) and results[0].error.field == "message"
    assert results[1].ok


async def test_auth_error_stops_send_many_and_starts_no_new_batch() -> None:
    gateway = ScriptedGateway()
    messages = numbered(30, special={6: AUTH})  # batch 2 of 10 fails authorisation
    async with gateway.client(batch_size=3, max_concurrency=1) as client:
        with pytest.raises(AuthError):
            await client.send_many(messages)
    assert len(gateway.batches) == 3  # batches 0, 1 and the failing one; nothing after


async def test_auth_error_in_iter_send_comes_after_the_results_before_it() -> None:
    gateway = ScriptedGateway()
    received = []
    async with gateway.client(batch_size=3, max_concurrency=2) as client:
        with pytest.raises(AuthError) as caught:
            async for result in client.iter_send(numbered(30, special={9: AUTH})):
                received.append(result)
    # Every answered request's outcomes are handed over first, the refused batch's included.
    assert [r.message.text for r in received] == [f"m{i}" for i in range(9)] + [
        "m9 AUTH",
        "m10",
        "m11",
    ]
    assert all(r.ok for r in received[:9])
    assert all(r.error is caught.value for r in received[9:])
    assert caught.value.results == []  # nothing read was left unreported
    assert len(gateway.batches) == 4  # two waves of two; no third wave


async def test_with_get_each_message_is_its_own_request_and_order_is_kept() -> None:
    gateway = ScriptedGateway()
    messages = numbered(7)
    async with gateway.client(http_method="GET", max_concurrency=3) as client:
        results = await client.send_many(messages)
    assert [r.id for r in results] == [f"id-m{i}" for i in range(7)]
    assert all(len(batch) == 1 for batch in gateway.batches) and len(gateway.batches) == 7
    assert gateway.max_in_flight <= 3


async def test_requests_in_flight_never_exceed_max_concurrency() -> None:
    gateway = ScriptedGateway(delay=0.002)
    async with gateway.client(batch_size=2, max_concurrency=3) as client:
        await client.send_many(numbered(40))
    assert 1 < gateway.max_in_flight <= 3


async def test_input_is_read_at_most_batch_size_times_concurrency_plus_one_ahead() -> None:
    batch_size, concurrency = 5, 3
    bound = batch_size * (concurrency + 1)
    produced = 0
    worst_lead = 0

    async def endless() -> AsyncIterator[Message]:
        nonlocal produced
        for i in range(1000):
            produced += 1
            yield Message("79112220000", f"m{i}")

    async with ScriptedGateway().client(batch_size=batch_size, max_concurrency=concurrency) as c:
        consumed = 0
        async for _ in c.iter_send(endless()):
            consumed += 1
            worst_lead = max(worst_lead, produced - consumed)
    assert consumed == 1000
    assert worst_lead <= bound
    assert worst_lead >= batch_size  # it does read ahead: the check above can fail


async def test_send_many_reads_input_lazily_within_the_same_bound() -> None:
    batch_size, concurrency = 4, 2
    produced = 0
    sent_when: list[int] = []
    gateway = ScriptedGateway()
    gateway.on_send = lambda batch: sent_when.append(produced)

    def messages() -> object:
        nonlocal produced
        for i in range(200):
            produced += 1
            yield Message("79112220000", f"m{i}")

    async with gateway.client(batch_size=batch_size, max_concurrency=concurrency) as client:
        results = await client.send_many(messages())  # type: ignore[arg-type]
    assert len(results) == 200
    # When batch k reached the gateway, at most (k + 1 + concurrency) batches had been read.
    for k, produced_then in enumerate(sent_when):
        assert produced_then <= (k + 1 + concurrency) * batch_size


async def test_breaking_out_of_iter_send_sends_nothing_more_and_leaves_the_client_usable() -> None:
    gateway = ScriptedGateway()
    async with gateway.client(batch_size=2, max_concurrency=2) as client:
        async for result in client.iter_send(numbered(100)):
            assert result.ok
            break
        batches_at_break = len(gateway.batches)
        gc.collect()  # finalise the abandoned generator from wherever: must not raise
        await anyio.wait_all_tasks_blocked()  # whatever could still run has run
        assert len(gateway.batches) == batches_at_break == 2  # one wave, nothing after
        again = await client.send_many(numbered(3))
    assert all(r.ok for r in again)


async def test_cancelling_send_many_leaves_no_task_running() -> None:
    gateway = ScriptedGateway(slow_seconds=30)
    tasks_before = len(asyncio.all_tasks())
    async with gateway.client(batch_size=2, max_concurrency=3) as client:
        with anyio.move_on_after(0.05) as scope:
            await client.send_many(numbered(20, special={i: SLOW for i in range(20)}))
        assert scope.cancelled_caught
        assert gateway.in_flight == 0  # the requests in flight were cancelled, not abandoned
        assert len(asyncio.all_tasks()) == tasks_before
        fast = ScriptedGateway()
    async with fast.client() as client:
        assert (await client.send("79112223333", "after")).ok


async def test_cancelling_iter_send_keeps_what_was_already_yielded() -> None:
    gateway = ScriptedGateway(slow_seconds=30)
    messages = numbered(8, special={6: SLOW})
    received = []
    async with gateway.client(batch_size=2, max_concurrency=1) as client:
        with anyio.move_on_after(0.2):
            async for result in client.iter_send(messages):
                received.append(result)
        assert gateway.in_flight == 0
    assert [r.message for r in received] == messages[:6]
    assert all(r.ok for r in received)


async def test_status_many_batches_and_keeps_order() -> None:
    gateway = ScriptedGateway()
    ids = [f"id{i}" for i in range(7)]
    for i, message_id in enumerate(ids):
        gateway.states[message_id] = [4 if i % 2 else 2]
    async with gateway.client(batch_size=3) as client:
        results = await client.status_many([*ids, "unknown", "bad id"])
    assert [len(batch) for batch in gateway.status_requests] == [3, 3, 2]  # "bad id" never sent
    assert [r.requested_id for r in results] == [*ids, "unknown", "bad id"]
    assert [r.state for r in results[:7]] == [2, 4, 2, 4, 2, 4, 2]
    assert results[7].state == MessageState.INVALID_ID and results[7].id is None
    assert isinstance(results[8].error, ValidationError)


async def test_wait_for_delivery_polls_only_ids_that_are_not_final() -> None:
    gateway = ScriptedGateway()
    gateway.states = {"a": [4], "b": [2, 3, 4], "c": [3, -14]}
    async with gateway.client(batch_size=10) as client:
        results = await client.wait_for_delivery(["a", "b", "c"], timeout=5, poll_interval=0.001)
    assert [sorted(ids) for ids in gateway.status_requests] == [["a", "b", "c"], ["b", "c"], ["b"]]
    assert [r.state for r in results] == [4, 4, -14]
    assert all(r.is_final for r in results)


async def test_wait_for_delivery_returns_the_latest_states_when_time_runs_out() -> None:
    gateway = ScriptedGateway()
    gateway.states = {"a": [4], "b": [2]}  # b never becomes final
    async with gateway.client() as client:
        results = await client.wait_for_delivery(["b", "a", "b"], timeout=0.05, poll_interval=0.01)
    assert [r.state for r in results] == [2, 4, 2]
    assert not results[0].is_final and results[1].is_final
    assert len(gateway.status_requests) >= 2
    assert all(ids == ["b"] for ids in gateway.status_requests[1:])


async def test_a_failing_status_batch_marks_its_ids_instead_of_raising() -> None:
    gateway = ScriptedGateway(status_garbage=True)
    async with gateway.client(batch_size=2) as client:
        results = await client.status_many(["a", "b", "c"])
    assert all(isinstance(r.error, ResponseError) and not r.ok for r in results)
    assert [r.requested_id for r in results] == ["a", "b", "c"]
    assert len(gateway.status_requests) == 2  # a shape error is not retried


def test_the_engine_runs_under_trio_too() -> None:
    gateway = ScriptedGateway()

    async def main() -> list[bool]:
        async with gateway.client(max_concurrency=2) as client:
            results = await client.send_many(numbered(7, special={3: DROP}))
            streamed = [r async for r in client.iter_send(numbered(4))]
        return [r.ok for r in results + streamed]

    oks = anyio.run(main, backend="trio")
    assert oks == [True, True, True, False, False, False, True, True, True, True, True]


@pytest.mark.parametrize(
    "odd",
    [
        Message("79112220000\n79112220001", "two numbers in one"),
        Message("79112220000", "bell \x07"),
        Message("79112220000", ""),
        Message("79112220000", "x", sender=["not", "hashable"]),  # type: ignore[arg-type]
        Message(79112220000, "an int destination is normalised"),  # type: ignore[arg-type]
        Message("+7 911 222-00-00", "decorated"),
        Message("79112220000", "bad sender", sender="Щит"),
    ],
)
async def test_one_odd_message_is_judged_alone_and_its_chunk_mates_are_sent(odd: Message) -> None:
    gateway = ScriptedGateway()
    before, after = numbered(4)[:2], numbered(4)[2:]  # distinct texts, so distinct ids
    messages = [*before, odd, *after]
    async with gateway.client(batch_size=5) as client:
        results = await client.send_many(messages)
    assert [r.ok for r in results[:2] + results[3:]] == [True] * 4
    sent = [entry for batch in gateway.batches for entry in batch]
    if results[2].ok:  # the two forms that are valid arrive normalised
        assert sent[2]["destination"] == "79112220000"
    else:
        assert isinstance(results[2].error, ValidationError)
        assert len(sent) == 4
    assert all("\n" not in entry["destination"] for entry in sent)


async def test_a_send_cancelled_in_flight_is_logged_as_unknown_but_one_never_sent_is_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gateway = ScriptedGateway(slow_seconds=30)
    on_the_wire = anyio.Event()
    gateway.on_send = lambda _: on_the_wire.set()
    caplog.set_level("WARNING", logger="mysms_async")
    async with gateway.client(max_concurrency=1) as client, anyio.create_task_group() as group:
        group.start_soon(client.send, "79112223333", f"first {SLOW}")
        await on_the_wire.wait()  # the first is at the gateway, holding the only slot
        group.start_soon(client.send, "79112223333", "second")
        await anyio.wait_all_tasks_blocked()  # the second waits for the slot
        group.cancel_scope.cancel()
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "delivery is unknown" in warnings[0]
    assert [entry["text"] for batch in gateway.batches for entry in batch] == [f"first {SLOW}"]


async def test_an_input_error_lets_the_requests_in_flight_finish_before_it_is_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gateway = ScriptedGateway(delay=0.05)
    caplog.set_level("WARNING", logger="mysms_async")

    def messages() -> object:
        yield from numbered(4)
        raise OSError("the campaign file went away")

    async with gateway.client(batch_size=2, max_concurrency=3) as client:
        with pytest.raises(InputError, match="went away") as caught:
            await client.send_many(messages())  # type: ignore[arg-type]
    assert isinstance(caught.value.__cause__, OSError)
    assert [r.id for r in caught.value.results] == [f"id-m{i}" for i in range(4)]
    assert len(gateway.batches) == 2  # both batches read before the error were sent, whole
    assert not [r for r in caplog.records if r.levelname == "WARNING"]  # none cut off mid-flight


async def test_status_many_asks_each_distinct_id_once() -> None:
    gateway = ScriptedGateway()
    gateway.states = {"a": [2], "b": [4]}
    async with gateway.client(batch_size=10) as client:
        results = await client.status_many(["a", "b", "a"])
    assert gateway.status_requests == [["a", "b"]]  # an answer never needs the same id twice
    assert [(r.requested_id, r.state) for r in results] == [("a", 2), ("b", 4), ("a", 2)]
