"""Progress on stderr while ``bulk`` sends, ``wait`` polls, ``campaign run`` sends and
``campaign track`` polls.

A rich bar on a terminal; elsewhere (a log, a CI job) a plain line every few seconds, so that
a long run shows it is alive without flooding the log. ``--quiet`` shows nothing.

The rate is this run's: what it did (``completed`` less what was done before it began) over its
own elapsed time, never over a campaign's whole age. The ETA is what is left at that rate, and a
run that was stopped shows none: nothing is coming to make it true.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Literal

from ._constants import BAR_REFRESH_EVERY, PLAIN_PROGRESS_EVERY
from ._output import Output

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


class Meter:
    """Progress on stderr: a rich bar on a terminal, a plain line now and then elsewhere."""

    def __init__(
        self,
        out: Output,
        *,
        label: str,
        total: int | None,
        unit: str,
        rate: bool,
        done_before: int = 0,
    ) -> None:
        self._out = out
        self._label = label
        self._unit = unit
        self.total = total
        self.completed = done_before
        self.done_before = done_before
        self.detail = ""
        self.stopped = False
        self._started = time.monotonic()
        self._last = self._started
        self._shown = ""
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._rate_shown = rate
        self.mode = _meter_mode(out)
        if self.mode == "bar":
            self._start_bar(rate)

    def _start_bar(self, rate: bool) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        columns: list[ProgressColumn | str] = [
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
        ]
        if rate:
            columns += [TextColumn("{task.fields[rate]}"), TextColumn("{task.fields[eta]}")]
        else:
            columns.append(TimeElapsedColumn())
        columns.append(TextColumn("{task.fields[detail]}"))
        self._progress = Progress(
            *columns,
            console=Console(stderr=True, highlight=False),
            redirect_stdout=False,
            redirect_stderr=False,
            refresh_per_second=10,
        )
        self._progress.start()
        self._task = self._progress.add_task(
            self._label, total=self.total, completed=self.completed, rate="", eta="", detail=""
        )

    @property
    def elapsed(self) -> float:
        """Seconds since this run began."""
        return time.monotonic() - self._started

    def _rate(self) -> float:
        """This run's rate: what it did over its own elapsed time."""
        elapsed = time.monotonic() - self._started
        done = self.completed - self.done_before
        return done / elapsed if elapsed > 0 and done > 0 else 0.0

    def seconds_left(self) -> float | None:
        """What is left at this run's rate; ``None`` when unknown, done, or stopped."""
        if self.stopped or not self.total:
            return None
        remaining = self.total - self.completed
        rate = self._rate()
        if remaining <= 0 or rate <= 0:
            return None
        return remaining / rate

    def _eta(self) -> str:
        left = self.seconds_left()
        return "" if left is None else f"ETA {left:.0f} s"

    def advance(self, count: int = 1, detail: str | None = None) -> None:
        self.completed += count
        if detail is not None:
            self.detail = detail
        self._refresh(force=False)

    def set(self, completed: int, detail: str, *, force: bool | None = None) -> None:
        """Show ``completed`` and ``detail``: at once if ``force`` (by default: if they changed),
        else at the next refresh (a line every few seconds in a log)."""
        changed = detail != self.detail or completed != self.completed
        self.completed = completed
        self.detail = detail
        self._refresh(force=changed if force is None else force)

    def _refresh(self, *, force: bool) -> None:
        now = time.monotonic()
        if self._progress is not None and self._task is not None:
            if force or now - self._last >= BAR_REFRESH_EVERY:
                self._last = now
                self._progress.update(
                    self._task,
                    completed=self.completed,
                    total=self.total,
                    rate=f"{self._rate():,.0f} {self._unit}/s",
                    eta="stopped" if self.stopped else self._eta(),
                    detail=self.detail,
                )
        elif self.mode == "lines" and (force or now - self._last >= PLAIN_PROGRESS_EVERY):
            self._last = now
            self._line(final=False)

    def _line(self, *, final: bool) -> None:
        elapsed = time.monotonic() - self._started
        done = f"{self.completed:,}"
        if self.total:
            done += f" of {self.total:,} {self._unit}"
            if not final:
                done += f" ({min(self.completed / self.total, 1):.0%})"
        else:
            done += f" {self._unit}"
        parts = [f"{self._label}: {done}"]
        if final:
            parts.append(f"in {elapsed:.1f} s" + (", stopped" if self.stopped else ""))
        if self._rate_shown:
            parts.append(f"{self._rate():,.0f} {self._unit}/s")
            if not final and self._eta():
                parts.append(self._eta())
        if self.detail:
            parts.append(self.detail)
        line = ", ".join(parts)
        if line != self._shown:
            self._shown = line
            self._out.say(line)

    def print(self, text: str) -> None:
        """A line on stderr that does not tear the bar."""
        if self._progress is not None:
            self._progress.console.print(self._out.line(text), markup=False, highlight=False)
        else:
            self._out.say(text)

    def halt(self) -> None:
        """A stop was asked for: what is left will not be done by this run, so no ETA."""
        self.stopped = True
        self._refresh(force=True)

    def finish(self, *, complete: bool = True) -> None:
        """Stop; a complete run's total is what was done (the line count was an estimate), an
        incomplete one is shown stopped, without an ETA."""
        self.stopped = not complete
        if complete or (self.total is not None and self.total < self.completed):
            self.total = self.completed
        if self._progress is not None and self._task is not None:
            self._refresh(force=True)
            self._progress.stop()
            self._progress = None
        elif self.mode == "lines" and self._rate_shown:
            self._line(final=True)


def _meter_mode(out: Output) -> Literal["bar", "lines", "off"]:
    if out.quiet:
        return "off"
    try:
        from rich.console import Console
    except ImportError:
        return "lines"
    return "bar" if Console(stderr=True).is_terminal else "lines"
