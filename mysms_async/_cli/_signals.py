"""SIGINT and SIGTERM: a run that is asked to stop says what it had done before it stops.

SIGTERM is what ``docker stop``, systemd and Kubernetes send; it gets the same care as Ctrl-C.
Inside the event loop, :func:`run_interruptible` turns either signal into a cancellation of the
command's task at a point of its choosing, so that the command can still account for what it
sent: ``bulk`` asks for a graceful stop (no more rows are read, the requests in flight finish,
and only if they take longer than :data:`SIGNAL_GRACE` or a second signal comes are they
cancelled and recorded as unknown); the other commands are cancelled at once and report what
they know. Outside the loop (reading the input, writing the summary) SIGTERM raises
:class:`Terminated`, a ``KeyboardInterrupt`` like Ctrl-C's, so both take the same paths.
The exit status is 128 plus the signal's number: 130 for SIGINT, 143 for SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TypeVar

from ._constants import SIGNAL_GRACE

T = TypeVar("T")

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived while no event loop was running; caught wherever Ctrl-C is."""


class Interrupted(Exception):
    """A signal cancelled the command's task; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal_name(signum))


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def exit_status(signum: int) -> int:
    """What a shell reports for a process stopped by ``signum``: 130 for SIGINT, 143 for TERM."""
    return 128 + signum


def interrupt_signum(error: BaseException) -> int:
    """The signal behind an interruption: SIGTERM for :class:`Terminated`, else SIGINT."""
    if isinstance(error, Interrupted):
        return error.signum
    return signal.SIGTERM if isinstance(error, Terminated) else signal.SIGINT


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While the command runs, SIGTERM raises :class:`Terminated` (if nobody else handles it)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class Stop:
    """What the signals asked of a run: nothing yet, a graceful stop, or a cancellation.

    ``signum`` is the first signal received; ``cancelled`` says the command's task was cancelled
    because of it (a second signal, the grace period over, or a command that stops at once).
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self.cancelled = False
        self._callbacks: list[Callable[[int], None]] = []

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def on_request(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(signum)`` when the first signal arrives (in the event loop)."""
        self._callbacks.append(callback)

    def _request(self, signum: int) -> None:
        self.signum = signum
        for callback in self._callbacks:
            callback(signum)


def uncancel_current_task() -> None:
    """After a command has caught the cancellation a signal caused, and carries on to report.

    Without this, the task would still count as cancelled and the next ``await`` of a timeout
    inside the library would be cut short.
    """
    task = asyncio.current_task()
    uncancel = getattr(task, "uncancel", None)  # Python 3.11+; before, nothing to undo
    if uncancel is not None:
        uncancel()


def run_interruptible(
    work: Callable[[Stop], Awaitable[T]],
    *,
    graceful: bool,
    stop: Stop | None = None,
    grace: float = SIGNAL_GRACE,
) -> T:
    """``asyncio.run(work(stop))`` with SIGINT and SIGTERM handled inside the loop.

    ``graceful``: the first signal only sets ``stop`` (the work is expected to wind down by
    itself); the task is cancelled ``grace`` seconds later, or at a second signal. Otherwise the
    first signal cancels the task. A cancellation the work lets escape becomes
    :class:`Interrupted`; one it catches is its own to report (``stop`` says what happened).
    """
    state = Stop() if stop is None else stop

    async def guarded() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        timer: asyncio.TimerHandle | None = None

        def cancel() -> None:
            if not state.cancelled:
                state.cancelled = True
                task.cancel()

        def handle(signum: int) -> None:
            nonlocal timer
            if state.signum is None:
                state._request(signum)
                if graceful:
                    timer = loop.call_later(grace, cancel)
                    return
            cancel()

        installed: dict[
            int, signal.Handlers | Callable[[int, FrameType | None], object] | int | None
        ] = {}
        for number in _SIGNALS:
            previous = signal.getsignal(number)
            try:
                loop.add_signal_handler(number, handle, number)
            except (ValueError, RuntimeError, NotImplementedError):  # not the main thread
                continue
            installed[number] = previous
        try:
            return await work(state)
        finally:
            if timer is not None:
                timer.cancel()
            for installed_number, handler in installed.items():
                loop.remove_signal_handler(installed_number)
                if handler is not None:  # None: set from C, cannot be restored from Python
                    signal.signal(installed_number, handler)

    try:
        return asyncio.run(guarded())
    except asyncio.CancelledError:
        if state.cancelled and state.signum is not None:
            raise Interrupted(state.signum) from None
        raise
