"""Issue 8, item 7: cancelling requests at random moments never costs the client a connection.

A plain asyncio ``task.cancel()`` (``asyncio.wait_for``, ``asyncio.timeout``) is not stopped by
the anyio shield inside httpcore: it could cut httpcore's response-close path halfway, leave the
connection ACTIVE in its one-connection slot, and the free list handed that slot out again, so
every later request failed with ``PoolTimeout``. Each test here cancels a thousand or more
requests at random points (a deadline drawn around one request's duration, so that some land
before, inside and after the round trip), then asks: does the client still send at once, and
does it hold no more connections than ``max_concurrency``?
"""

from __future__ import annotations

import asyncio
import random
import statistics
from collections.abc import Awaitable, Callable

import anyio
import anyio.lowlevel
import pytest
import sniffio
from asyncio_compat import TIMEOUT_ERRORS, timeout
from fault_cases import DESTINATION, make_client, make_gateway, open_connections
from test_concurrency import connected_to

from mysms_async import MySMSClient, MySMSError
from mysms_async._transport import InFlight
from mysms_async.testing import FakeGateway

SLOTS = 1  # one slot: a single stuck connection bricks the client
SEED = 20261128
#: Over a socket each cut request costs a new connection (a few ms): a few hundred suffice.
ROUNDS = 300


async def _cut_after(call: Awaitable[object], steps: int) -> bool:
    """Run ``call`` in a task and cancel it after ``steps`` turns of the event loop: every await
    point of a round trip gets its turn. True if it was cut."""
    task = asyncio.ensure_future(call)
    for _ in range(steps):
        if task.done():
            break
        await asyncio.sleep(0)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        return True
    except MySMSError:
        pass  # an unknown outcome is a fair answer for a send cut on the wire
    return False


async def _round_trip_time(client: MySMSClient) -> float:
    """How long one request takes here and now (the machine may be loaded): the median of seven,
    so one stall of a busy machine does not stretch every deadline past the round trip."""
    took = []
    for _ in range(7):
        started = anyio.current_time()
        await client.balance()
        took.append(anyio.current_time() - started)
    return statistics.median(took)


async def _loop_turns(client: MySMSClient) -> int:
    """How many turns of the event loop one request spans: each is a point a cancel can hit."""
    task = asyncio.ensure_future(client.balance())
    turns = 0
    while not task.done():
        await asyncio.sleep(0)
        turns += 1
    await task
    return turns


async def _cancelled_at_random(client: MySMSClient, rounds: int, rng: random.Random) -> int:
    """``rounds`` sends and balances, each cut by one of four asyncio cancellation styles:
    ``wait_for``, ``asyncio.timeout`` and ``call_later(task.cancel)`` with a deadline drawn up to
    1.5 round trips, and ``task.cancel()`` after a random number of loop turns."""
    longest = 1.5 * await _round_trip_time(client)
    turns = await _loop_turns(client)
    cancelled = 0
    for i in range(rounds):
        deadline = rng.uniform(0, longest)
        call: Callable[[], Awaitable[object]] = (
            (lambda i=i: client.send(DESTINATION, f"sweep {i}")) if i % 2 else client.balance
        )
        style = i % 4
        try:
            if style == 0:
                await asyncio.wait_for(call(), deadline)
            elif style == 1:
                async with timeout(deadline):
                    await call()
            elif style == 2:
                task = asyncio.ensure_future(call())
                asyncio.get_running_loop().call_later(deadline, task.cancel)
                await task
            else:
                cancelled += await _cut_after(call(), rng.randrange(turns + 1))
        except (*TIMEOUT_ERRORS, asyncio.CancelledError):
            cancelled += 1
        except MySMSError:
            pass  # an unknown outcome is a fair answer for a send cut on the wire
    return cancelled


async def _still_works(client: MySMSClient) -> None:
    with anyio.fail_after(3):  # a stuck slot fails only after the pool timeout
        assert (await client.balance()).amount >= 0
        sent = await client.send(DESTINATION, "after the sweep")
        assert sent.ok


async def test_asyncio_cancellations_in_process_never_lose_capacity() -> None:
    gateway = make_gateway()
    rng = random.Random(SEED)
    async with make_client(gateway, "json", "POST", max_concurrency=SLOTS) as client:
        await client.balance()
        cancelled = await _cancelled_at_random(client, 1000, rng)
        assert cancelled > 100  # the sweep really cut requests
        await _still_works(client)
        in_flight = client._transport._in_flight
        assert in_flight.free == SLOTS and in_flight.waiting == 0


async def test_asyncio_cancellations_over_a_socket_never_lose_capacity(
    backend: str, served: tuple[FakeGateway, str]
) -> None:
    gateway, base_url = served
    port = int(base_url.split(":")[2].split("/")[0])
    rng = random.Random(SEED)
    client = make_client(
        gateway, "json", "GET", base_url=base_url, max_concurrency=SLOTS, backend=backend
    )
    async with client:
        await client.balance()
        cancelled = await _cancelled_at_random(client, ROUNDS, rng)
        assert cancelled > ROUNDS // 4
        await _still_works(client)
        assert open_connections(client) <= SLOTS
        assert len(connected_to(port)) <= SLOTS
    assert open_connections(client) == 0
    assert connected_to(port) == []


def test_trio_move_on_after_over_a_socket_never_loses_capacity(
    served: tuple[FakeGateway, str],
) -> None:
    gateway, base_url = served
    port = int(base_url.split(":")[2].split("/")[0])

    async def main() -> None:
        assert sniffio.current_async_library() == "trio"
        rng = random.Random(SEED)
        client = make_client(
            gateway, "json", "POST", base_url=base_url, max_concurrency=SLOTS, backend="auto"
        )
        async with client:
            await client.balance()
            assert client._transport.engine == "httpx"  # auto is httpx under trio
            longest = 1.5 * await _round_trip_time(client)
            cut = 0
            for i in range(ROUNDS):
                with anyio.move_on_after(rng.uniform(0, longest)) as scope:
                    try:
                        if i % 2:
                            await client.send(DESTINATION, f"trio sweep {i}")
                        else:
                            await client.balance()
                    except MySMSError:
                        pass
                cut += scope.cancelled_caught
            assert cut > ROUNDS // 4
            with anyio.fail_after(3):
                assert (await client.send(DESTINATION, "after the trio sweep")).ok
            assert open_connections(client) <= SLOTS
        assert connected_to(port) == []

    anyio.run(main, backend="trio")


# --- the in-flight bound itself -----------------------------------------------------------------


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
def test_the_in_flight_bound_loses_no_place_to_cancelled_waiters(anyio_backend: str) -> None:
    """Waiters cancelled at random, some just after being handed a place: the bound holds at
    every moment, every place comes back, and waiters are served first come first served."""

    async def main() -> None:
        places = 3
        bound = InFlight(places)
        rng = random.Random(SEED)
        holding = 0
        most = 0
        order: list[int] = []

        async def user(i: int) -> None:
            nonlocal holding, most
            await bound.acquire()
            try:
                holding += 1
                most = max(most, holding)
                order.append(i)
                await anyio.lowlevel.checkpoint()
            finally:
                holding -= 1
                bound.release()

        async with anyio.create_task_group() as group:
            for i in range(400):
                scope = anyio.CancelScope()

                async def run(i: int = i, scope: anyio.CancelScope = scope) -> None:
                    with scope:
                        await user(i)

                group.start_soon(run)
                if rng.random() < 0.3:
                    for _ in range(rng.randrange(3)):
                        await anyio.lowlevel.checkpoint()
                    scope.cancel()
        assert most == places
        assert bound.free == places and bound.waiting == 0
        assert len(order) > 100

    anyio.run(main, backend=anyio_backend)
