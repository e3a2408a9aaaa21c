"""SIGINT and SIGTERM: a run that is asked to stop says what it had done before it stops.

SIGTERM is what ``docker stop``, systemd and Kubernetes send; it gets the same care as Ctrl-C.
There is one stop mechanism and one policy, for every command that talks to the gateway
(``send``, ``status``, ``wait``, ``balance``, ``bulk``, ``campaign run``, ``campaign track``):
inside the event loop, :func:`stop_on_signals` turns the first signal into a request to stop
(:class:`Stop`: no more rows are read, no more batches claimed, no more polling rounds begun; the
requests in flight may finish), and :data:`SIGNAL_GRACE` seconds later, or at a second signal,
cancels the command's task, so that what is still in flight is recorded as unknown. Like
Procrastinate's ``on_stop``, it saves the handlers that were there before and puts them back
when the command is done. Outside the loop (reading the input, writing the summary) SIGTERM
raises :class:`Terminated`, a ``KeyboardInterrupt`` like Ctrl-C's, so both take the same paths.
The exit status is 128 plus the signal's number: 130 for SIGINT, 143 for SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, TypeVar

import anyio

from ._constants import SIGNAL_GRACE

T = TypeVar("T")

_SIGNALS: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)


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


@contextmanager
def _handlers_restored(signals: Iterable[int]) -> Iterator[None]:
    """Put back the Python-level handlers ``signals`` had on the way in, whatever happens.

    The one place the command saves and restores handlers: the loop's ``remove_signal_handler``
    would otherwise leave ``SIG_DFL`` behind for SIGTERM (and ``default_int_handler`` for
    SIGINT), whatever was installed before. A handler set from C (``None``) cannot be restored
    from Python and is left as it is.
    """
    saved: dict[int, Any] = {number: signal.getsignal(number) for number in signals}
    try:
        yield
    finally:
        for number, handler in saved.items():
            if handler is not None:
                signal.signal(number, handler)


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While the command runs, SIGTERM raises :class:`Terminated` (if nobody else handles it)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    with _handlers_restored([signal.SIGTERM]):
        signal.signal(signal.SIGTERM, _raise_terminated)
        yield


class Stop:
    """What the signals asked of a run: nothing yet, a graceful stop, or a cancellation.

    ``signum`` is the first signal received; ``requested`` is true from then on, and ``event``
    (made inside the running loop by :func:`stop_on_signals`) is set, for work that waits for
    it (``campaign run``'s ``stop``, the polling of ``wait``). ``cancelled`` says the command's
    task was cancelled because of it (a second signal, or the grace period over).
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self.cancelled = False
        self.event: anyio.Event | None = None
        self._callbacks: list[Callable[[int], None]] = []

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def on_request(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(signum)`` when the first signal arrives (in the event loop)."""
        self._callbacks.append(callback)

    async def wait(self, seconds: float) -> bool:
        """Sleep ``seconds``, or less if a stop is requested meanwhile; ``True`` if it was."""
        if self.event is None:
            await anyio.sleep(seconds)
        else:
            with anyio.move_on_after(seconds):
                await self.event.wait()
        return self.requested

    def _request(self, signum: int) -> None:
        self.signum = signum
        if self.event is not None:
            self.event.set()
        for callback in self._callbacks:
            callback(signum)


@contextmanager
def stop_on_signals(stop: Stop, *, grace: float = SIGNAL_GRACE) -> Iterator[Stop]:
    """The one stop mechanism: SIGINT and SIGTERM handled in the running loop, for this block.

    Enter it in the command's task. The first signal requests the stop (``stop`` is set and its
    callbacks run); ``grace`` seconds later, or at a second signal, the task is cancelled. On the
    way out the loop's handlers are removed and the previous ones restored. Outside the main
    thread (where signals cannot be handled) it does nothing.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    stop.event = anyio.Event()
    timer: asyncio.TimerHandle | None = None

    def cancel() -> None:
        if not stop.cancelled:
            stop.cancelled = True
            task.cancel()

    def handle(signum: int) -> None:
        nonlocal timer
        if stop.signum is None:
            stop._request(signum)
            timer = loop.call_later(grace, cancel)
        else:
            cancel()

    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    with _handlers_restored(_SIGNALS):
        installed: list[int] = []
        try:
            for number in _SIGNALS:
                try:
                    loop.add_signal_handler(number, handle, number)
                except (ValueError, RuntimeError, NotImplementedError):  # Windows
                    continue
                installed.append(number)
            yield stop
        finally:
            if timer is not None:
                timer.cancel()
            for number in installed:
                loop.remove_signal_handler(number)


def stopping_note(signum: int, *, grace: float = SIGNAL_GRACE) -> str:
    """What the first signal does, said when it comes."""
    return (
        f"{signal_name(signum)}: stopping; nothing new is started, the requests in flight may"
        f" finish for {grace:g} s (signal again to stop at once: they are then unknown)"
    )


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
    stop: Stop | None = None,
    grace: float = SIGNAL_GRACE,
) -> T:
    """``asyncio.run(work(stop))`` under :func:`stop_on_signals`.

    A cancellation the work lets escape becomes :class:`Interrupted`; one it catches is its
    own to report (``stop`` says what happened).
    """
    state = Stop() if stop is None else stop

    async def guarded() -> T:
        with stop_on_signals(state, grace=grace):
            return await work(state)

    try:
        return asyncio.run(guarded())
    except asyncio.CancelledError:
        if state.cancelled and state.signum is not None:
            raise Interrupted(state.signum) from None
        raise
