"""``asyncio.timeout`` on every supported Python: 3.10 has none; async_timeout is no dependency.

The cancellation sweeps cut requests with asyncio's own three styles: ``asyncio.wait_for`` (a new
task), ``asyncio.timeout`` (the current task, cancelled in place) and ``call_later(task.cancel)``.
On 3.10 ``timeout`` is the same in-place cut done by hand, so the sweep keeps all three styles
there. ``TIMEOUT_ERRORS`` is what a cut by either may raise: 3.10's ``asyncio.TimeoutError`` is
not yet the builtin ``TimeoutError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator

TIMEOUT_ERRORS = (TimeoutError, asyncio.TimeoutError)


@contextlib.asynccontextmanager
async def timeout_by_hand(delay: float) -> AsyncIterator[None]:
    """Cancel the current task in place after ``delay`` seconds; raise ``TimeoutError``."""
    task = asyncio.current_task()
    assert task is not None
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        task.cancel()

    handle = asyncio.get_running_loop().call_later(delay, expire)
    try:
        yield
    except asyncio.CancelledError:
        if expired:
            raise TimeoutError from None
        raise
    finally:
        handle.cancel()


if sys.version_info >= (3, 11):
    from asyncio import timeout
else:
    timeout = timeout_by_hand


__all__ = ["TIMEOUT_ERRORS", "timeout", "timeout_by_hand"]
