"""Where everything goes: documents and tables to stdout, notes and errors to stderr.

Every line the command writes passes through :meth:`Output.clean`, so the password in use never
reaches a terminal or a log. rich is imported only when a table or bar is drawn: ``--json``
works without the ``[cli]`` extra.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from .._redact import redact_text
from ._constants import CLI_EXTRA

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
        self._console: Console | None = None

    def clean(self, text: str) -> str:
        return redact_text(text, self.secret)

    def emit(self, document: object) -> None:
        """One JSON document (or one JSON Lines line) on stdout."""
        sys.stdout.write(self.clean(json.dumps(document, ensure_ascii=False)) + "\n")

    def line(self, text: str) -> str:
        """``text`` as the command writes it on stderr: named, and with the secret scrubbed."""
        return f"mysms: {self.clean(text)}"

    def say(self, text: str) -> None:
        print(self.line(text), file=sys.stderr, flush=True)

    def note(self, text: str) -> None:
        if not self.quiet:
            self.say(text)

    def warn(self, text: str) -> None:
        self.say(f"warning: {text}")

    def error(self, text: str, kind: str) -> None:
        self.say(f"error: {text}")
        if self.json:
            self.emit({"error": {"type": kind, "message": self.clean(text)}})

    def console(self) -> Console:
        """The rich console on stdout (``require_rich`` has run for every human command)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(highlight=False, soft_wrap=False)
        return self._console

    def print(self, *renderables: Any) -> None:
        self.console().print(*renderables)


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
