"""rate_limit: a token bucket, tested with an injected clock instead of real sleeps."""

from __future__ import annotations

import anyio
import pytest
from scripted_gateway import ScriptedGateway

from mysms_async import Message, ValidationError
from mysms_async._ratelimit import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_the_bucket_spaces_requests_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(5.0, clock=clock, sleep=clock.sleep)
    start = clock.now
    for _ in range(11):
        await bucket.acquire()
    # The first passes at once; the other ten wait 1/5 s each.
    assert clock.now - start == pytest.approx(2.0)
    assert all(s == pytest.approx(0.2) for s in clock.sleeps)


async def test_idle_time_refills_up_to_the_burst_only() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2.0, burst=3, clock=clock, sleep=clock.sleep)
    clock.now += 60  # a long pause earns at most `burst` tokens
    for _ in range(3):
        await bucket.acquire()
    assert clock.sleeps == []
    await bucket.acquire()
    assert clock.sleeps == [pytest.approx(0.5)]


async def test_concurrent_callers_share_one_budget() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10.0, clock=clock, sleep=clock.sleep)
    start = clock.now
    async with anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(bucket.acquire)
    assert clock.now - start == pytest.approx(1.9)


async def test_the_client_takes_a_token_per_request() -> None:
    gateway = ScriptedGateway()
    clock = FakeClock()
    async with gateway.client(rate_limit=4, batch_size=2, max_concurrency=2) as client:
        bucket = client._transport._bucket  # the client's own bucket, driven by the fake clock
        assert bucket is not None
        bucket._clock, bucket._sleep = clock, clock.sleep
        results = await client.send_many([Message("79112223333", f"m{i}") for i in range(10)])
    assert all(r.ok for r in results)
    assert len(gateway.batches) == 5
    assert sum(clock.sleeps) == pytest.approx(4 * 0.25)  # five requests at four per second


@pytest.mark.parametrize("bad", [0, -1, "fast", True])
def test_rate_limit_must_be_a_positive_number(bad: object) -> None:
    with pytest.raises(ValidationError, match="rate_limit"):
        ScriptedGateway().client(rate_limit=bad)
