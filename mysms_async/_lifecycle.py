"""The client's event-loop guard: unopened, open, closed, and the one loop it belongs to.

Every path to the wire passes through ``Lifecycle.check``: a closed client raises
``ClientClosedError`` and a client used from a second event loop raises
``WrongEventLoopError``, both before any I/O.
"""

from __future__ import annotations

import asyncio
import enum
import weakref
from asyncio import _get_running_loop
from typing import Any

import sniffio
from sniffio import current_async_library_cvar as _sniffio_cvar
from sniffio import thread_local as _sniffio_thread

from ._exceptions import ClientClosedError, WrongEventLoopError


class State(enum.Enum):
    UNOPENED = "unopened"
    OPENED = "opened"
    CLOSED = "closed"


class Lifecycle:
    """Unopened, open, closed; and the one event loop the client's connections belong to."""

    __slots__ = ("_loop", "released", "state")
    state: State

    def __init__(self) -> None:
        self.state = State.UNOPENED
        self._loop: weakref.ref[Any] | None = None
        #: The connections were closed (by ``aclose()`` in the owning loop). Apart from
        #: ``state``: a foreign loop's ``aclose()`` marks the client closed, not released.
        self.released: bool = False

    def check(self) -> None:
        """Raise before any I/O when the client is closed or running in a foreign loop."""
        if self.state is State.CLOSED:
            raise ClientClosedError(
                "this MySMSClient is closed; create a new one (a closed connection pool"
                " cannot be reopened)"
            )
        ref = self._loop
        if ref is not None:
            # Fast path, as strict as the full check below: the running asyncio loop (per
            # thread) is the client's own, and no other library (trio, even as a guest on this
            # loop) has claimed the thread or context, so sniffio would answer "asyncio" (or
            # nothing) and the full check would find the same loop.
            running = _get_running_loop()
            if (
                running is not None
                and ref() is running
                and _sniffio_thread.name is None
                and _sniffio_cvar.get() is None
            ):
                return
        loop = _running_loop()
        if loop is None:
            return
        if self._loop is None:
            self._loop = weakref.ref(loop)
        elif self._loop() is not loop:
            raise WrongEventLoopError(
                "this MySMSClient was first used in another event loop (or thread), and its"
                " connections belong to that loop: create one client per asyncio.run() (for"
                " example inside each Celery task), or share one only within a single loop"
            )

    def in_own_loop(self) -> bool:
        """False when the client's connections belong to another (perhaps closed) loop."""
        return self._loop is None or self._loop() is _running_loop()


def _running_loop() -> Any:
    """The running event loop (asyncio) or run (trio) as an object to compare, or None."""
    try:
        library = sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return None
    if library == "asyncio":
        return asyncio.get_running_loop()
    if library == "trio":
        import trio

        return trio.lowlevel.current_root_task()
    return None
