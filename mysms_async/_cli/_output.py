"""Where everything goes: documents and tables to stdout, notes and errors to stderr.

Every line the command writes passes through :meth:`Output.clean`, so the password in use never
reaches a terminal or a log. rich is imported only when a table or bar is drawn: ``--json``
works without the ``[cli]`` extra.

stdout may fail under the command (a reader that closed the pipe, a full disk, EIO): that stops
the printing, never the work. The first ``OSError`` is kept, stdout is pointed at the null
device so that nothing else (the interpreter's last flush included) trips on it, and
:meth:`Output.close` ends the run with exit status 1 and one line on stderr that says where the
record is (the results file, or the id of the message sent). A failing stderr is ignored:
there is nowhere left to say so.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from typing import TYPE_CHECKING, Any

from .._redact import redact_text
from ._constants import CLI_EXTRA, EXIT_OK, EXIT_PROBLEMS

if TYPE_CHECKING:
    from rich.console import Console


class UsageError(Exception):
    """A mistake in the command line, the input file or the credentials: exit status 2."""


class Output:
    """Where everything goes: documents and tables to stdout, notes and errors to stderr."""

    def __init__(self, *, json_mode: bool, quiet: bool) -> None:
        self.json = json_mode
        self.quiet = quiet
        #: The password in use, once known: scrubbed from anything this module prints.
        self.secret: str | None = None
        #: Where the run's record is, named on stderr if stdout fails (set by the commands).
        self.record: str | None = None
        #: The first error writing to stdout; nothing more is written there after it.
        self.stdout_error: OSError | None = None
        #: Tables and text go to stderr (``bulk --results -``: stdout carries the results).
        self.tables_to_stderr = False
        self._console: Console | None = None

    def clean(self, text: str) -> str:
        return redact_text(text, self.secret)

    def emit(self, document: object, *, redact: bool = True) -> None:
        """One JSON document (or one JSON Lines line) on stdout, flushed: readers stream it.

        ``redact=False`` only for a document whose credentials are its point (the emulator's
        demo account).
        """
        if self.stdout_error is not None:
            return
        text = json.dumps(document, ensure_ascii=False)
        try:
            sys.stdout.write((self.clean(text) if redact else text) + "\n")
            sys.stdout.flush()
        except OSError as error:
            self._stdout_failed(error)

    def line(self, text: str) -> str:
        """``text`` as the command writes it on stderr: named, and with the secret scrubbed."""
        return f"mysms: {self.clean(text)}"

    def say(self, text: str) -> None:
        with contextlib.suppress(OSError, ValueError):  # stderr gone too: nowhere left to say
            print(self.line(text), file=sys.stderr, flush=True)

    def note(self, text: str) -> None:
        if not self.quiet:
            self.say(text)

    def warn(self, text: str) -> None:
        self.say(f"warning: {text}")

    def error(self, text: str, kind: str, *, document: bool = True) -> None:
        """The error on stderr and, with ``--json`` and ``document``, as the run's document."""
        self.say(f"error: {text}")
        if self.json and document:
            self.emit({"error": {"type": kind, "message": self.clean(text)}})

    def console(self) -> Console:
        """The rich console on stdout (``require_rich`` has run for every human command)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(highlight=False, soft_wrap=False, stderr=self.tables_to_stderr)
        return self._console

    def print(self, *renderables: Any) -> None:
        if self.stdout_error is not None and not self.tables_to_stderr:
            return
        try:
            self.console().print(*renderables)
        except OSError as error:
            if not self.tables_to_stderr:
                self._stdout_failed(error)

    def _stdout_failed(self, error: OSError) -> None:
        self.stdout_error = error
        _silence_stdout()

    def close(self, code: int) -> int:
        """Flush stdout; after a failure on it, say so once and make the exit status 1 at least."""
        if self.stdout_error is None:
            try:
                sys.stdout.flush()
            except OSError as error:
                self._stdout_failed(error)
            except ValueError:
                pass  # stdout was closed by someone else
        if self.stdout_error is None:
            return code
        reason = self.stdout_error.strerror or type(self.stdout_error).__name__
        text = f"cannot write to stdout ({reason}): output stopped there"
        if self.record:
            text += f"; {self.record}"
        self.say(f"error: {text}")
        return EXIT_PROBLEMS if code == EXIT_OK else code


class LibraryLog(logging.Handler):
    """The library's own log records (a send cancelled in flight, say) as the command's lines.

    Without it Python's last-resort handler prints them bare, unnamed and unredacted by us.
    """

    def __init__(self, out: Output) -> None:
        super().__init__(logging.WARNING)
        self._out = out

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a malformed record: the logging module's own report is enough
            return
        self._out.say(f"{record.levelname.lower()}: {text}")


def _silence_stdout() -> None:
    """Point file descriptor 1 at the null device, so that later writes and the interpreter's
    final flush of what is still buffered succeed quietly."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def require_rich() -> None:
    try:
        import rich.console  # noqa: F401
    except ImportError:
        raise UsageError(
            f"the mysms command's tables and progress bar need rich: {CLI_EXTRA}"
            " (or use --json, which needs nothing more)"
        ) from None


def new_table(*columns: str, title: str | None = None) -> Any:
    from rich import box
    from rich.table import Table

    return Table(*columns, title=title, box=box.SIMPLE_HEAD, title_justify="left")


def new_pairs(*, title: str) -> Any:
    """A two-column table of names and values, without borders."""
    from rich.table import Table

    table = Table.grid(padding=(0, 2))
    table.title = title
    table.title_justify = "left"
    table.add_column(style="bold")
    table.add_column()
    return table
