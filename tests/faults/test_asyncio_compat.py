"""The 3.10 stand-in for ``asyncio.timeout`` cuts as the real one does, on every Python.

The cancellation sweeps use it on 3.10; here it is checked on each version, side by side with
``asyncio.timeout`` where that exists, so the 3.10 sweep cuts requests the same way.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest
from asyncio_compat import TIMEOUT_ERRORS, timeout_by_hand

Timeout = Callable[[float], AbstractAsyncContextManager[None]]
STYLES: list[Timeout] = [timeout_by_hand]
if sys.version_info >= (3, 11):
    STYLES.append(asyncio.timeout)


@pytest.fixture(params=STYLES, ids=lambda style: f"{style.__module__}.{style.__name__}")
def cut(request: pytest.FixtureRequest) -> Timeout:
    style: Timeout = request.param
    return style


async def test_a_late_body_is_cut_in_place_with_timeout_error(cut: Timeout) -> None:
    never = asyncio.Event()
    reached_cleanup = asyncio.Event()

    async def body() -> None:
        try:
            await never.wait()
        finally:
            reached_cleanup.set()

    with pytest.raises(TimeoutError):
        async with cut(0.01):
            await body()  # the current task itself is cancelled: no new task, as with wait_for
    assert reached_cleanup.is_set()
    await asyncio.sleep(0)  # no cancellation left pending on the task


async def test_a_quick_body_is_not_cut_and_leaves_nothing_armed(cut: Timeout) -> None:
    async with cut(0.005):
        await asyncio.sleep(0)
    await asyncio.sleep(0.02)  # not ordering: past the deadline, a timer left armed would cut here


async def test_an_outside_cancel_stays_a_cancel(cut: Timeout) -> None:
    started = asyncio.Event()

    async def victim() -> None:
        async with cut(10):
            started.set()
            await asyncio.Event().wait()

    task = asyncio.ensure_future(victim())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_wait_for_raises_one_of_timeout_errors() -> None:
    with pytest.raises(TIMEOUT_ERRORS):
        await asyncio.wait_for(asyncio.Event().wait(), 0.01)
