"""The ``mysms`` command: send, bulk, status, wait, balance, and a local emulator.

::

    mysms [global options] COMMAND [options]      (global options may also follow COMMAND)

Credentials come from ``MYSMS_USERNAME`` and ``MYSMS_PASSWORD`` (the other ``MYSMS_*`` variables
of :meth:`MySMSClient.from_env` are read as well), else from a prompt when stdin is a terminal.
The password is never echoed and never printed: every message this module writes passes through
the same redaction as the library's own errors. ``--sandbox`` runs any command against an
in-process :class:`~mysms_async.testing.FakeGateway` with its demo account: no account, no
network, no SMS.

Output is for people by default (rich tables and a progress bar, from the ``[cli]`` extra) and for
programs with ``--json``: one JSON document per command, or JSON Lines for ``bulk`` (one line per
input row, then a summary line). Progress, notes and errors go to stderr.

``bulk`` streams its input: rows are read, validated and sent one wave at a time by
:meth:`MySMSClient.iter_send`, and each input row gets exactly one row in the results file, in
input order, whatever happened to it: accepted (with its id), rejected (with the gateway's code),
unknown (the request may have reached the gateway: never resend such rows blindly), failed,
invalid (with the reason and its line number), or not sent.

Exit status: 0 everything accepted (``wait``: delivered), 1 something was rejected, failed, has an
unknown outcome or was an invalid row, 2 a usage or credential error (``AuthError`` included),
130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import copy
import csv
import datetime as dt
import getpass
import json
import logging
import os
import re
import socket
import sys
import time
import traceback
import warnings
import zoneinfo
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, Literal

from . import __version__
from . import _constants as C
from ._client import InsecureURLWarning, MySMSClient
from ._codes import MessageState
from ._config import ENV_PASSWORD, ENV_SENDER, ENV_USERNAME, read_env
from ._exceptions import AuthError, DeliveryUnknownError, MySMSError, ValidationError
from ._models import Message, SendResult, StatusResult
from ._redact import redact_text
from ._request import to_wire, validate_sender

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from .testing import FakeGateway

__all__ = ["main"]

EXIT_OK: Final = 0
EXIT_PROBLEMS: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130

#: The sandbox moves each message one state on per this many seconds (2 -> 3 -> 4), so ``wait``
#: has something to show, and answers each request this late, like a nearby server.
SANDBOX_DELIVERY_DELAY: Final = 0.4
SANDBOX_LATENCY: Final = 0.05
#: ``mysms emulator``: seconds per delivery step, unless --delivery-delay says otherwise.
EMULATOR_DELIVERY_DELAY: Final = 1.0

#: ``bulk``: a row whose text needs more SMS parts than this is refused (--max-parts).
DEFAULT_MAX_PARTS: Final = 10
DEFAULT_WAIT_TIMEOUT: Final = 300.0
DEFAULT_WAIT_INTERVAL: Final = 1.0
#: Seconds between two progress lines when stderr is not a terminal.
PLAIN_PROGRESS_EVERY: Final = 2.0
#: Seconds between two updates of the progress bar.
BAR_REFRESH_EVERY: Final = 0.1
#: Problem rows reported one by one on stderr; the results file has every one of them.
MAX_ROWS_REPORTED: Final = 20
MAX_LINES_LISTED: Final = 10

RESULT_COLUMNS: Final = ("line", "destination", "outcome", "id", "state", "parts", "error")
CLI_EXTRA: Final = "pip install 'mysms-async[cli]'"
EMULATOR_EXTRA: Final = "pip install 'mysms-async[emulator]'"
AUTH_FAILED: Final = (
    "the gateway refused the username or password (request state -1): check"
    f" {ENV_USERNAME} and {ENV_PASSWORD}"
)

Outcome = Literal["accepted", "rejected", "unknown", "failed", "invalid", "valid", "not-sent"]

#: What each message state means, in the words of the gateway's document.
MEANINGS: Final[Mapping[int, str]] = {
    2: "waiting to be handed to the operator",
    3: "handed to the operator",
    4: "delivered",
    -10: "invalid message id",
    -11: "invalid or unregistered sender name",
    -12: "invalid destination number",
    -13: "not enough money on the account",
    -14: "sending failed",
    -15: "invalid send-date format",
    -16: "invalid TTL",
}

_BAD_BYTES: Final = re.compile("[\udc80-\udcff]")
_REQUIRED_COLUMNS: Final = ("destination", "text")
_OPTIONAL_COLUMNS: Final = ("sender", "date", "ttl")
_JSONL_SUFFIXES: Final = frozenset({".jsonl", ".ndjson", ".json"})


class UsageError(Exception):
    """A mistake in the command line, the input file or the credentials: exit status 2."""


# ---------------------------------------------------------------------------------------------
# states, for people and programs


def state_name(state: int | None) -> str | None:
    if state is None:
        return None
    try:
        return MessageState(state).name
    except ValueError:
        return None


def state_label(state: int | None) -> str:
    """``QUEUED (2)``, or ``-99 (not in the gateway's document)`` for a code nobody knows."""
    if state is None:
        return "-"
    name = state_name(state)
    return f"{name} ({int(state)})" if name else f"{int(state)} (not in the gateway's document)"


def _describe_validation(error: ValidationError) -> str:
    text = str(error)
    if error.value is not None and error.field in ("destination", "sender", "ttl", "message_id"):
        text += f"; got {error.value!r}"
    return text


def _printable(text: str) -> str:
    """Undecodable input bytes (kept as surrogates) shown as ``\\xNN``, printable anywhere."""
    if _BAD_BYTES.search(text) is None:
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _parts(text: str) -> tuple[int, str] | None:
    """SMS parts and encoding of ``text``, or ``None`` where the segment counter is missing."""
    try:
        from ._segments import segments
    except ImportError:  # pragma: no cover - the counter ships with the package
        return None
    counted = segments(text)
    return counted.parts, counted.encoding


# ---------------------------------------------------------------------------------------------
# output


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

    def say(self, text: str) -> None:
        print(f"mysms: {self.clean(text)}", file=sys.stderr, flush=True)

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
        """The rich console on stdout (``_require_rich`` has run for every human command)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(highlight=False, soft_wrap=False)
        return self._console

    def print(self, *renderables: Any) -> None:
        self.console().print(*renderables)


def _require_rich() -> None:
    try:
        import rich.console  # noqa: F401
    except ImportError:
        raise UsageError(
            f"the mysms command's tables and progress bar need rich: {CLI_EXTRA}"
            " (or use --json, which needs nothing more)"
        ) from None


def _table(*columns: str, title: str | None = None) -> Any:
    from rich import box
    from rich.table import Table

    return Table(*columns, title=title, box=box.SIMPLE_HEAD, title_justify="left")


def _pairs(*, title: str) -> Any:
    """A two-column table of names and values, without borders."""
    from rich.table import Table

    table = Table.grid(padding=(0, 2))
    table.title = title
    table.title_justify = "left"
    table.add_column(style="bold")
    table.add_column()
    return table


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
    ) -> None:
        self._out = out
        self._label = label
        self._unit = unit
        self.total = total
        self.completed = 0
        self.detail = ""
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
            TimeRemainingColumn,
        )

        columns: list[ProgressColumn | str] = [
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
        ]
        if rate:
            columns += [TextColumn("{task.fields[rate]}"), "ETA", TimeRemainingColumn()]
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
        self._task = self._progress.add_task(self._label, total=self.total, rate="", detail="")

    def _rate(self) -> float:
        elapsed = time.monotonic() - self._started
        return self.completed / elapsed if elapsed > 0 else 0.0

    def advance(self, count: int = 1, detail: str | None = None) -> None:
        self.completed += count
        if detail is not None:
            self.detail = detail
        self._refresh(force=False)

    def set(self, completed: int, detail: str) -> None:
        changed = detail != self.detail or completed != self.completed
        self.completed = completed
        self.detail = detail
        self._refresh(force=changed)

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
            parts.append(f"in {elapsed:.1f} s")
        if self._rate_shown:
            parts.append(f"{self._rate():,.0f} {self._unit}/s")
            remaining = (self.total or 0) - self.completed
            if not final and self.total and self.completed and remaining > 0:
                parts.append(f"ETA {remaining / self._rate():.0f} s")
        if self.detail:
            parts.append(self.detail)
        line = ", ".join(parts)
        if line != self._shown:
            self._shown = line
            self._out.say(line)

    def print(self, text: str) -> None:
        """A line on stderr that does not tear the bar."""
        text = f"mysms: {self._out.clean(text)}"
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=sys.stderr, flush=True)

    def finish(self, *, complete: bool = True) -> None:
        """Stop; a complete run's total is what was done (the line count was an estimate)."""
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


# ---------------------------------------------------------------------------------------------
# option types


def _whole(text: str, minimum: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{text!r} must be {what}")
    return value


def _positive_int(text: str) -> int:
    return _whole(text, 1, "at least 1")


def _non_negative_int(text: str) -> int:
    return _whole(text, 0, "0 or more")


def _port(text: str) -> int:
    value = _whole(text, 0, "a port number (0 picks a free one)")
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} must be a port number, at most 65535")
    return value


def _seconds(text: str, *, allow_zero: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0 or (value == 0 and not allow_zero) or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number of seconds")
    return value


def _positive_seconds(text: str) -> float:
    return _seconds(text, allow_zero=False)


def _non_negative_seconds(text: str) -> float:
    return _seconds(text, allow_zero=True)


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 1")
    return value


def _amount(text: str) -> Decimal:
    try:
        value = Decimal(text.replace(",", "."))
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be an amount of 0 or more")
    return value


def parse_iso_datetime(value: str) -> dt.datetime:
    """ISO 8601, with ``Z`` accepted for UTC on every Python this package supports."""
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"date {value!r} is not ISO 8601 (e.g. 2026-11-24T18:30:00+03:00; without an"
            " offset it is taken as Moscow time)"
        ) from None


# ---------------------------------------------------------------------------------------------
# the parser

_EPILOG = f"""\
credentials:
  {ENV_USERNAME}, {ENV_PASSWORD}   the account (else you are asked, when stdin is a terminal)
  {ENV_SENDER}, MYSMS_BASE_URL, MYSMS_FORMAT, MYSMS_METHOD   defaults for the options below
  --sandbox needs none of them: it runs against an emulated gateway in this process.

exit status:
  0  everything accepted (wait: delivered)      1  something rejected, failed, unknown or invalid
  2  usage or credential error                  130  interrupted

try it without an account:
  mysms --sandbox send 79112223333 "Hello"
  mysms --sandbox bulk examples/campaign.csv
"""


def _add_global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The options every command takes, before or after its name.

    On a command's parser their defaults are suppressed, so that an option given before the
    command is not reset by the command's parser.
    """

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("global options (before or after the command)")
    group.add_argument(
        "--sandbox",
        action="store_true",
        default=default(False),
        help="use an emulated gateway in this process (demo account, no network, no SMS sent)",
    )
    group.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="machine-readable output: one JSON document (bulk: JSON Lines) on stdout",
    )
    group.add_argument(
        "--format",
        type=str.lower,
        choices=("json", "xml"),
        default=default(None),
        help="the gateway's wire format (default: json)",
    )
    group.add_argument(
        "--method",
        type=str.lower,
        choices=("post", "get"),
        default=default(None),
        help="HTTP method; get sends one message per request (default: post)",
    )
    group.add_argument(
        "--base-url",
        metavar="URL",
        default=default(None),
        help=f"the gateway's address (default: {C.DEFAULT_BASE_URL})",
    )
    group.add_argument(
        "--sender", metavar="NAME", default=default(None), help="sender name shown to recipients"
    )
    group.add_argument(
        "--batch-size",
        type=_positive_int,
        metavar="N",
        default=default(None),
        help=f"messages per request (default: {C.DEFAULT_BATCH_SIZE})",
    )
    group.add_argument(
        "--concurrency",
        type=_positive_int,
        metavar="N",
        default=default(None),
        help=f"requests in flight (default: {C.DEFAULT_MAX_CONCURRENCY})",
    )
    group.add_argument(
        "--retries",
        type=_non_negative_int,
        metavar="N",
        default=default(None),
        help="retries of a request that provably did not reach the gateway"
        f" (default: {C.DEFAULT_MAX_RETRIES})",
    )
    group.add_argument(
        "--request-timeout",
        type=_positive_seconds,
        metavar="S",
        default=default(None),
        help=f"seconds one request may take (default: {C.DEFAULT_TIMEOUT:g})",
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default(False),
        help="no progress and no notes on stderr (errors are still shown)",
    )


def _add_wait_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=_non_negative_seconds,
        metavar="S",
        default=DEFAULT_WAIT_TIMEOUT,
        help=f"give up waiting after S seconds (default: {DEFAULT_WAIT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--interval",
        type=_positive_seconds,
        metavar="S",
        default=DEFAULT_WAIT_INTERVAL,
        help=f"seconds between two status checks (default: {DEFAULT_WAIT_INTERVAL:g})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mysms",
        description="Send SMS through the my-sms.ru gateway, check delivery, read the balance.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mysms-async {__version__}")
    _add_global_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=summary,
            description=description,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        return sub

    send = command("send", "send one SMS", "Send one SMS and print its id and state.")
    send.add_argument("destination", metavar="DEST", help="the number, e.g. 79112223333")
    send.add_argument("text", metavar="TEXT", help="the message; - reads it from stdin")
    send.add_argument("--date", metavar="ISO", help="send at this time (ISO 8601)")
    send.add_argument("--ttl", type=_positive_int, metavar="N", help="the message's lifetime")
    send.add_argument("--wait", action="store_true", help="then wait until it is delivered")
    _add_wait_options(send)
    _add_global_options(send, suppress=True)

    bulk = command(
        "bulk",
        "send every row of a CSV or JSON Lines file",
        "Send every row of FILE: CSV with a header row, or JSON Lines, with the fields\n"
        "destination,text[,sender,date,ttl] (date in ISO 8601). The file is streamed, never\n"
        "loaded whole. Every input row gets one row in the results file: line, destination,\n"
        "outcome (accepted, rejected, unknown, failed, invalid, not-sent), id, state, parts,\n"
        "error. Bad rows are reported with their line number and never stop the good ones.",
    )
    bulk.add_argument("file", metavar="FILE", help="the rows to send; - reads stdin")
    bulk.add_argument(
        "--input-format",
        type=str.lower,
        choices=("csv", "jsonl"),
        help="how FILE is written (default: from its extension, .jsonl/.ndjson for JSON Lines)",
    )
    bulk.add_argument(
        "--results",
        metavar="PATH",
        help="where to write the results (default: FILE's stem + .results.csv beside it,"
        " numbered so that an earlier one is never overwritten)",
    )
    bulk.add_argument(
        "--dry-run",
        action="store_true",
        help="validate every row and count parts and cost; send nothing",
    )
    bulk.add_argument(
        "--price-per-part",
        type=_amount,
        metavar="AMOUNT",
        help="price of one SMS part, for the cost estimate (--sandbox knows its own)",
    )
    bulk.add_argument(
        "--max-parts",
        type=_non_negative_int,
        metavar="N",
        default=DEFAULT_MAX_PARTS,
        help="refuse a row whose text needs more than N SMS parts; 0 for no limit"
        f" (default: {DEFAULT_MAX_PARTS})",
    )
    _add_global_options(bulk, suppress=True)

    status = command("status", "print the state of message ids", "Ask the state of each id.")
    status.add_argument("ids", metavar="ID", nargs="+", help="message ids; - reads them from stdin")
    _add_global_options(status, suppress=True)

    wait = command(
        "wait",
        "wait until messages are delivered",
        "Check the ids until every one is final (delivered or failed) or the time is up.",
    )
    wait.add_argument("ids", metavar="ID", nargs="+", help="message ids; - reads them from stdin")
    _add_wait_options(wait)
    _add_global_options(wait, suppress=True)

    balance = command("balance", "print the account's balance", "Print the account's balance.")
    _add_global_options(balance, suppress=True)

    emulator = command(
        "emulator",
        "run the gateway emulator on a local port",
        "Serve an emulated gateway (all twelve endpoints) until Ctrl-C, so that apps in any\n"
        f"language can be pointed at it. Needs the [emulator] extra: {EMULATOR_EXTRA}",
    )
    emulator.add_argument("--host", default="127.0.0.1", help="address to listen on")
    emulator.add_argument(
        "--port", type=_port, default=8080, help="port to listen on; 0 picks a free one"
    )
    emulator.add_argument(
        "--delivery-delay",
        type=_non_negative_seconds,
        metavar="S",
        default=EMULATOR_DELIVERY_DELAY,
        help="seconds per delivery step, queued -> handed over -> delivered"
        f" (default: {EMULATOR_DELIVERY_DELAY:g})",
    )
    emulator.add_argument(
        "--fail-share",
        type=_share,
        metavar="F",
        default=0.0,
        help="share of accepted messages that end in -14, sending failed (default: 0)",
    )
    emulator.add_argument(
        "--balance", type=_amount, metavar="AMOUNT", help="the demo account's balance"
    )
    emulator.add_argument(
        "--price-per-part", type=_amount, metavar="AMOUNT", help="price charged per SMS part"
    )
    _add_global_options(emulator, suppress=True)
    return parser


# ---------------------------------------------------------------------------------------------
# entry point


@dataclass
class Session:
    """One run of the command: its options, its output, and the sandbox gateway if any."""

    args: argparse.Namespace
    out: Output
    gateway: FakeGateway | None = None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mysms`` command; return its exit status (the console script exits with it)."""
    parser = build_parser()
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except SystemExit as stop:  # --help, --version, or a usage error argparse has printed
        return stop.code if isinstance(stop.code, int) else EXIT_OK if stop.code is None else 2
    if args.command is None:
        parser.print_usage(sys.stderr)
        print("mysms: error: a command is needed (mysms --help lists them)", file=sys.stderr)
        return EXIT_USAGE
    out = Output(json_mode=args.json, quiet=args.quiet)
    session = Session(args, out)
    try:
        if not args.json and args.command != "emulator":
            _require_rich()
        return _COMMANDS[args.command](session)
    except UsageError as error:
        out.error(str(error), "UsageError")
        return EXIT_USAGE
    except KeyboardInterrupt:
        out.error("interrupted", "KeyboardInterrupt")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_PROBLEMS
    except Exception as error:  # a bug: show it, but never with the password in it
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        print(out.clean(text), file=sys.stderr, end="")
        return EXIT_PROBLEMS


def _silence_stdout() -> None:
    """After a closed pipe (``mysms ... | head``), keep the interpreter's final flush quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


# ---------------------------------------------------------------------------------------------
# the client


def _stdin_is_tty() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def _credentials(out: Output) -> dict[str, str]:
    """The environment, with the username and password filled in by a prompt if need be."""
    env = dict(os.environ)
    username = env.get(ENV_USERNAME, "")
    password = env.get(ENV_PASSWORD, "")
    if username and password:
        return env
    if not _stdin_is_tty():
        missing = " and ".join(
            name
            for name, value in ((ENV_USERNAME, username), (ENV_PASSWORD, password))
            if not value
        )
        raise UsageError(
            f"no credentials: set {ENV_USERNAME} and {ENV_PASSWORD} ({missing} not set; stdin is"
            " not a terminal to ask on), or try --sandbox"
        )
    if not username:
        print("my-sms.ru username: ", end="", file=sys.stderr, flush=True)
        username = sys.stdin.readline().strip()
    if not password:
        password = getpass.getpass("my-sms.ru password: ")  # on the terminal, never echoed
    if not username or not password:
        raise UsageError("no username or password given")
    env[ENV_USERNAME] = username
    env[ENV_PASSWORD] = password
    return env


def _client_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if args.format is not None:
        options["wire_format"] = args.format
    if args.method is not None:
        options["http_method"] = args.method.upper()
    if args.sender is not None:
        options["sender"] = args.sender
    if args.batch_size is not None:
        options["batch_size"] = args.batch_size
    if args.concurrency is not None:
        options["max_concurrency"] = args.concurrency
    if args.retries is not None:
        options["max_retries"] = args.retries
    if args.request_timeout is not None:
        options["timeout"] = args.request_timeout
    return options


def _sandbox(session: Session) -> FakeGateway:
    """The in-process gateway of ``--sandbox``, made once, announced on stderr."""
    if session.gateway is None:
        if session.args.base_url is not None:
            raise UsageError("--sandbox runs against an emulated gateway: leave out --base-url")
        from .testing import FakeGateway, Latency

        gateway = FakeGateway(delivery_delay=SANDBOX_DELIVERY_DELAY)
        gateway.inject(Latency(SANDBOX_LATENCY), times=None)
        account = gateway.accounts[0]
        session.out.secret = account.password
        session.gateway = gateway
        senders = ", ".join(account.senders) or "none"
        session.out.say(
            f"sandbox: an emulated gateway in this process (account {account.username},"
            f" balance {gateway.balance_of(account.username)}, sender {senders}):"
            " nothing leaves this machine, no SMS is sent"
        )
    return session.gateway


def _open_client(session: Session) -> MySMSClient:
    args, out = session.args, session.out
    options = _client_options(args)
    try:
        if args.sandbox:
            return _sandbox(session).client(**options)
        env = _credentials(out)
        out.secret = env[ENV_PASSWORD]
        settings: dict[str, Any] = read_env(env)
        settings.update(options)
        if args.base_url is not None:
            settings["base_url"] = args.base_url
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", InsecureURLWarning)
            client = MySMSClient(**settings)
    except ValidationError as error:
        raise UsageError(_describe_validation(error)) from None
    for warning in caught:
        out.warn(str(warning.message))
    return client


def _run_client(session: Session, command: Callable[[MySMSClient], Awaitable[int]]) -> int:
    """Open a client, run ``command`` with it in an event loop, map the library's errors."""
    client = _open_client(session)
    out = session.out

    async def run() -> int:
        async with client:
            return await command(client)

    try:
        return asyncio.run(run())
    except AuthError:
        out.error(AUTH_FAILED, "AuthError")
        return EXIT_USAGE
    except ValidationError as error:
        out.error(_describe_validation(error), "ValidationError")
        return EXIT_USAGE
    except MySMSError as error:
        out.error(str(error), type(error).__name__)
        return EXIT_PROBLEMS


# ---------------------------------------------------------------------------------------------
# send, status, wait, balance


def _status_document(result: StatusResult) -> dict[str, Any]:
    state = None if result.state is None else int(result.state)
    return {
        "id": result.requested_id,
        "state": state,
        "state_name": state_name(state),
        "meaning": None if state is None else MEANINGS.get(state),
        "final": result.is_final,
        "error": None if result.error is None else str(result.error),
    }


def _status_text(result: StatusResult) -> str:
    if result.error is not None:
        if isinstance(result.error, ValidationError):
            return f"error: {_describe_validation(result.error)}"
        return f"error: {result.error}"
    state = None if result.state is None else int(result.state)
    meaning = MEANINGS.get(state, "") if state is not None else ""
    return f"{state_label(state)}{': ' + meaning if meaning else ''}"


def _style(state: int | None, error: object = None) -> str:
    if error is not None or state is None or state < 0:
        return "red"
    return "green" if state == MessageState.DELIVERED else "yellow"


def _read_text(value: str) -> str:
    if value != "-":
        return value
    text = sys.stdin.read()
    return text[:-1] if text.endswith("\n") else text


def _read_ids(values: list[str]) -> list[str]:
    if values != ["-"]:
        return values
    ids = [line.strip() for line in sys.stdin if line.strip()]
    if not ids:
        raise UsageError("no message ids on stdin")
    return ids


def _cmd_send(session: Session) -> int:
    args, out = session.args, session.out
    text = _read_text(args.text)
    try:
        date = None if args.date is None else parse_iso_datetime(args.date)
    except ValueError as error:
        raise UsageError(f"--date: {error}") from None
    counted = _parts(text)

    async def send(client: MySMSClient) -> int:
        result = await client.send(args.destination, text, date=date, ttl=args.ttl)
        delivery: StatusResult | None = None
        timed_out = False
        if args.wait and result.ok and result.id:
            results, timed_out = await _poll(client, [result.id], args.timeout, args.interval, out)
            delivery = results[0]
        state = None if result.state is None else int(result.state)
        if out.json:
            document: dict[str, Any] = {
                "destination": args.destination,
                "id": result.id,
                "state": state,
                "state_name": state_name(state),
                "meaning": None if state is None else MEANINGS.get(state),
                "accepted": result.ok,
                "parts": None if counted is None else counted[0],
                "encoding": None if counted is None else counted[1],
            }
            if args.wait:
                document["delivery"] = None if delivery is None else _status_document(delivery)
                document["timed_out"] = timed_out
            out.emit(document)
        else:
            table = _pairs(title="sent" if result.ok else "not accepted")
            table.add_row("destination", args.destination)
            table.add_row("id", result.id or "-")
            meaning = MEANINGS.get(state, "") if state is not None else ""
            table.add_row(
                "state",
                f"[{_style(state)}]{state_label(state)}[/]{': ' + meaning if meaning else ''}",
            )
            if counted is not None:
                table.add_row("parts", f"{counted[0]} ({counted[1]})")
            if delivery is not None:
                shown = _status_text(delivery)
                if timed_out:
                    shown += f" (still not final after {args.timeout:g} s)"
                table.add_row("delivery", shown)
            out.print(table)
        if not result.ok:
            return EXIT_PROBLEMS
        if args.wait:
            delivered = delivery is not None and delivery.state == MessageState.DELIVERED
            return EXIT_OK if delivered else EXIT_PROBLEMS
        return EXIT_OK

    return _run_client(session, send)


def _cmd_status(session: Session) -> int:
    args, out = session.args, session.out
    ids = _read_ids(args.ids)

    async def status(client: MySMSClient) -> int:
        results = await client.status_many(ids)
        _show_statuses(out, results, title="status")
        return EXIT_OK if all(result.ok for result in results) else EXIT_PROBLEMS

    return _run_client(session, status)


def _show_statuses(
    out: Output, results: list[StatusResult], *, title: str, extra: dict[str, Any] | None = None
) -> None:
    if out.json:
        out.emit({"results": [_status_document(r) for r in results], **(extra or {})})
        return
    table = _table("id", "state", "final", title=title)
    table.columns[0].no_wrap = True
    for result in results:
        state = None if result.state is None else int(result.state)
        table.add_row(
            result.requested_id or "-",
            f"[{_style(state, result.error)}]{_status_text(result)}[/]",
            "yes" if result.is_final else "no",
        )
    out.print(table)


def _still_pending(result: StatusResult) -> bool:
    if isinstance(result.error, ValidationError):
        return False  # asking again will not make a malformed id valid
    return not result.is_final


def _wait_counts(results: Iterable[StatusResult]) -> tuple[int, int, int]:
    delivered = failed = pending = 0
    for result in results:
        if result.state == MessageState.DELIVERED:
            delivered += 1
        elif _still_pending(result):
            pending += 1
        else:
            failed += 1
    return delivered, failed, pending


async def _poll(
    client: MySMSClient, ids: list[str], timeout: float, interval: float, out: Output
) -> tuple[list[StatusResult], bool]:
    """Check the ids every ``interval`` seconds until all are final or ``timeout`` is up.

    Returns the latest result per id (in the order given) and whether time ran out first.
    """
    unique = list(dict.fromkeys(ids))
    latest: dict[str, StatusResult] = {}
    pending = unique
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    meter = Meter(out, label="waiting", total=len(unique), unit="ids final", rate=False)
    try:
        while True:
            for result in await client.status_many(pending):
                latest[result.requested_id or ""] = result
            pending = [i for i in pending if _still_pending(latest[i])]
            delivered, failed, waiting = _wait_counts(latest.values())
            meter.set(
                len(unique) - waiting,
                f"delivered {delivered}, failed {failed}, pending {waiting}",
            )
            remaining = deadline - loop.time()
            if not pending or remaining <= 0:
                break
            await asyncio.sleep(min(interval, remaining))
    finally:
        meter.finish()
    return [latest[i] for i in ids], bool(pending)


def _cmd_wait(session: Session) -> int:
    args, out = session.args, session.out
    ids = _read_ids(args.ids)

    async def wait(client: MySMSClient) -> int:
        results, timed_out = await _poll(client, ids, args.timeout, args.interval, out)
        delivered, failed, pending = _wait_counts({r.requested_id: r for r in results}.values())
        counts = {"delivered": delivered, "failed": failed, "pending": pending}
        _show_statuses(out, results, title="delivery", extra={**counts, "timed_out": timed_out})
        if not out.json:
            line = f"{delivered} delivered, {failed} failed or invalid, {pending} pending"
            if timed_out:
                line += f" (gave up after {args.timeout:g} s)"
            out.print(line)
        return EXIT_OK if failed == 0 and pending == 0 else EXIT_PROBLEMS

    return _run_client(session, wait)


def _cmd_balance(session: Session) -> int:
    out = session.out

    async def balance(client: MySMSClient) -> int:
        answer = await client.balance()
        if out.json:
            out.emit({"balance": str(answer.amount)})
        else:
            out.print(f"balance: {answer.amount}")
        return EXIT_OK

    return _run_client(session, balance)


# ---------------------------------------------------------------------------------------------
# bulk: reading rows


class RowError(ValueError):
    """A row that cannot become a message; its text is the reason."""


@dataclass
class Row:
    """One input row: where it was, and the message it holds or why it holds none."""

    line: int
    end_line: int
    destination: str
    message: Message | None = None
    error: str | None = None
    parts: int | None = None

    @property
    def where(self) -> str:
        if self.end_line == self.line:
            return f"line {self.line}"
        return f"lines {self.line}-{self.end_line}"


def _decoded_lines(stream: IO[bytes]) -> Iterator[str]:
    """Lines as text; bytes that are not UTF-8 are kept as surrogates and refused per row."""
    first = True
    for raw in stream:
        if first:
            first = False
            if raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
        yield raw.decode("utf-8", "surrogateescape")


def _optional_text(record: Mapping[str, object], key: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RowError(f"{key} must be a string")
    value = value.strip()
    return value or None


def _ttl(value: object) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    raise RowError(f"ttl {value!r} is not a whole number")


def message_from_record(record: Mapping[str, object]) -> Message:
    """Build a message from one row's fields (strings from CSV, any JSON value from JSONL)."""
    destination = record.get("destination")
    if isinstance(destination, int) and not isinstance(destination, bool):
        destination = str(destination)
    if destination is None or (isinstance(destination, str) and not destination.strip()):
        raise RowError("destination is missing")
    if not isinstance(destination, str):
        raise RowError(f"destination must be a string of digits, not {destination!r}")
    text = record.get("text")
    if text is None or text == "":
        raise RowError("text is missing or empty")
    if not isinstance(text, str):
        raise RowError("text must be a string")
    sender = _optional_text(record, "sender")
    date_text = _optional_text(record, "date")
    ttl = _ttl(record.get("ttl"))
    for value in (destination, text, sender or "", date_text or ""):
        if _BAD_BYTES.search(value):
            raise RowError("is not valid UTF-8 (save the file as UTF-8)")
    try:
        date = None if date_text is None else parse_iso_datetime(date_text)
    except ValueError as error:
        raise RowError(str(error)) from None
    return Message(destination.strip(), text, sender=sender, date=date, ttl=ttl)


def _shown_destination(record: Mapping[str, object]) -> str:
    value = record.get("destination")
    if isinstance(value, bool) or not isinstance(value, str | int):
        return ""
    return _printable(str(value).strip())


class RowSource:
    """FILE, read lazily one row at a time; a CSV header is read (and checked) at once."""

    def __init__(self, path: str, input_format: str | None, *, max_parts: int, out: Output) -> None:
        self.path = path
        self.name = "stdin" if path == "-" else path
        self.kind = input_format or self._guess_kind(path)
        self._max_parts = max_parts
        self._last_line = 0
        self._columns: list[str] = []
        try:
            self._stream: IO[bytes] = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
        except OSError as error:
            raise UsageError(f"cannot read {path}: {error.strerror or error}") from None
        self._lines = _decoded_lines(self._stream)
        self._reader: Any = None
        if self.kind == "csv":
            try:
                self._read_header(out)
            except BaseException:
                self.close()
                raise

    @staticmethod
    def _guess_kind(path: str) -> str:
        return "jsonl" if Path(path).suffix.lower() in _JSONL_SUFFIXES else "csv"

    def close(self) -> None:
        if self.path != "-":
            self._stream.close()

    def count_rows(self) -> int | None:
        """Data rows, counted cheaply as lines when FILE is a regular file (an estimate)."""
        if self.path == "-" or not Path(self.path).is_file():
            return None
        lines = 0
        last = b"\n"
        with open(self.path, "rb") as stream:
            while chunk := stream.read(1 << 20):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
        if last != b"\n":
            lines += 1
        return max(lines - self._last_line, 0)

    def _read_header(self, out: Output) -> None:
        self._reader = csv.reader(self._lines, strict=True)
        while True:
            try:
                header: list[str] = next(self._reader)
            except StopIteration:
                raise UsageError(
                    f"{self.name} is empty: a CSV file starts with a header row naming its"
                    " columns, destination,text[,sender,date,ttl]"
                ) from None
            except csv.Error as error:
                raise UsageError(f"{self.name}: the header row is not valid CSV: {error}") from None
            if any(name.strip() for name in header):
                break
        self._last_line = self._reader.line_num
        columns = [name.strip().lower() for name in header]
        if any(name not in columns for name in _REQUIRED_COLUMNS):
            shown = _printable(",".join(header))[:120]
            raise UsageError(
                f"{self.name}: the header row must name the columns destination and text"
                f" (and may name sender, date, ttl); it is: {shown}"
            )
        repeated = sorted({name for name in columns if name and columns.count(name) > 1})
        if repeated:
            raise UsageError(f"{self.name}: the header names {', '.join(repeated)} twice")
        unknown = [name for name in columns if name not in _REQUIRED_COLUMNS + _OPTIONAL_COLUMNS]
        if unknown:
            out.warn(f"{self.name}: ignoring the column(s) {_printable(', '.join(unknown))}")
        self._columns = columns

    def rows(self) -> Iterator[Row]:
        if self.kind == "csv":
            yield from self._csv_rows()
        else:
            yield from self._jsonl_rows()

    def _csv_rows(self) -> Iterator[Row]:
        reader = self._reader
        width = len(self._columns)
        while True:
            start = self._last_line + 1
            try:
                values: list[str] = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                self._last_line = reader.line_num
                yield Row(start, self._last_line, "", error=f"not valid CSV: {error}")
                continue
            self._last_line = end = reader.line_num
            if not any(value.strip() for value in values):
                continue  # a blank line
            record = dict(zip(self._columns, values, strict=False))
            if len(values) > width:
                reason = (
                    f"has {len(values)} fields but the header names {width}: put a text that"
                    ' contains a comma in double quotes ("...")'
                )
                yield Row(start, end, _shown_destination(record), error=reason)
                continue
            yield self._row(start, end, record)

    def _jsonl_rows(self) -> Iterator[Row]:
        for number, line in enumerate(self._lines, start=1):
            self._last_line = number
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as error:
                reason = getattr(error, "msg", str(error))
                column = getattr(error, "colno", None)
                where = f" at column {column}" if column else ""
                yield Row(number, number, "", error=f"not valid JSON: {reason}{where}")
                continue
            if not isinstance(record, dict):
                yield Row(number, number, "", error="is not a JSON object")
                continue
            yield self._row(number, number, record)

    def _row(self, start: int, end: int, record: Mapping[str, object]) -> Row:
        shown = _shown_destination(record)
        try:
            message = message_from_record(record)
        except RowError as error:
            return Row(start, end, shown, error=str(error))
        counted = _parts(message.text)
        parts = None if counted is None else counted[0]
        if parts is not None and self._max_parts and parts > self._max_parts:
            reason = f"text needs {parts} SMS parts, more than --max-parts {self._max_parts}"
            if end > start:
                reason += " (an unclosed double quote?)"
            return Row(start, end, shown, error=reason)
        return Row(start, end, shown, message=message, parts=parts)


# ---------------------------------------------------------------------------------------------
# bulk: accounting for every row


def classify(row: Row, result: SendResult | None) -> tuple[Outcome, str | None, int | None, str]:
    """The outcome of one row: (outcome, id, state, error text)."""
    if row.error is not None:
        return "invalid", None, None, row.error
    if result is None:
        return "valid", None, None, ""
    error = result.error
    state = None if result.state is None else int(result.state)
    if isinstance(error, ValidationError):
        return "invalid", None, None, _describe_validation(error)
    if isinstance(error, DeliveryUnknownError):
        return "unknown", None, None, f"{type(error).__name__}: {error}"
    if error is not None:
        return "failed", None, None, f"{type(error).__name__}: {error}"
    if state is not None and state < 0:
        return "rejected", result.id, state, f"{state_label(state)}: {MEANINGS.get(state, '')}"
    if result.id:
        return "accepted", result.id, state, ""
    return "failed", None, state, "the gateway accepted the message but gave it no id"


class BulkReport:
    """Counts, the results file, the JSON Lines, the progress, and the problem reports."""

    def __init__(
        self,
        out: Output,
        *,
        source: str,
        results_path: Path,
        writer: Any,
        meter: Meter,
        dry_run: bool,
        price: Decimal | None,
    ) -> None:
        self._out = out
        self._writer = writer
        self.meter = meter
        self.source = source
        self.results_path = results_path
        self.dry_run = dry_run
        self.counting = _parts("x") is not None
        self.price = price if self.counting else None
        self.rows = 0
        self.outcomes: Counter[str] = Counter()
        self.rejected: Counter[int] = Counter()
        self.parts = 0
        self.problems = 0
        self.problem_lines: list[str] = []
        self.last_line = 0
        self.stopped: str | None = None
        self.started = time.monotonic()
        self.elapsed = 0.0

    def record(
        self,
        row: Row,
        result: SendResult | None,
        *,
        outcome: Outcome | None = None,
        error: str = "",
    ) -> None:
        message_id: str | None = None
        state: int | None = None
        if outcome is None:
            outcome, message_id, state, error = classify(row, result)
        if error:
            error = self._out.clean(error)
        self.rows += 1
        self.last_line = max(self.last_line, row.end_line)
        self.outcomes[outcome] += 1
        if outcome == "rejected" and state is not None:
            self.rejected[state] += 1
        if outcome in ("accepted", "valid") and row.parts is not None:
            self.parts += row.parts
        parts = "" if row.parts is None else row.parts
        self._writer.writerow(
            [
                row.line,
                row.destination,
                outcome,
                message_id or "",
                "" if state is None else state,
                parts,
                error,
            ]
        )
        if self._out.json:
            self._out.emit(
                {
                    "type": "row",
                    "line": row.line,
                    "destination": row.destination,
                    "outcome": outcome,
                    "id": message_id,
                    "state": state,
                    "state_name": state_name(state),
                    "parts": row.parts,
                    "error": error or None,
                }
            )
        if outcome not in ("accepted", "valid"):
            self._problem(row, outcome, error)
        problem = "invalid" if self.dry_run else "not accepted"
        detail = f"{self.problems:,} {problem}" if self.problems else ""
        self.meter.advance(1, detail)

    def _problem(self, row: Row, outcome: str, error: str) -> None:
        self.problems += 1
        if len(self.problem_lines) < MAX_LINES_LISTED:
            self.problem_lines.append(f"{row.where} ({outcome})")
        if self.problems <= MAX_ROWS_REPORTED:
            self.meter.print(f"{row.where}: {outcome}: {error}")
        elif self.problems == MAX_ROWS_REPORTED + 1:
            self.meter.print(f"more rows with problems: see {self.results_path}")

    @property
    def all_good(self) -> bool:
        good = self.outcomes["valid" if self.dry_run else "accepted"]
        return self.stopped is None and good == self.rows

    @property
    def cost(self) -> Decimal | None:
        return None if self.price is None else self.price * self.parts

    def summary(self) -> dict[str, Any]:
        return {
            "type": "summary",
            "file": self.source,
            "results_file": str(self.results_path),
            "dry_run": self.dry_run,
            "rows": self.rows,
            "accepted": self.outcomes["accepted"],
            "valid": self.outcomes["valid"],
            "rejected": [
                {"state": code, "state_name": state_name(code), "rows": count}
                for code, count in sorted(self.rejected.items())
            ],
            "unknown": self.outcomes["unknown"],
            "failed": self.outcomes["failed"],
            "invalid": self.outcomes["invalid"],
            "not_sent": self.outcomes["not-sent"],
            "parts": self.parts if self.counting else None,
            "price_per_part": None if self.price is None else str(self.price),
            "cost": None if self.cost is None else str(self.cost),
            "seconds": round(self.elapsed, 3),
            "stopped": self.stopped,
        }

    def show(self) -> None:
        if self._out.json:
            self._out.emit(self.summary())
            return
        title = f"{'dry run' if self.dry_run else 'bulk send'}: {self.source}"
        table = _table("", "rows", title=title)
        table.columns[1].justify = "right"
        table.add_row("rows read", f"{self.rows:,}")
        if self.dry_run:
            table.add_row("[green]valid[/]", f"{self.outcomes['valid']:,}")
        else:
            table.add_row("[green]accepted[/]", f"{self.outcomes['accepted']:,}")
            if self.rejected:
                for code, count in sorted(self.rejected.items()):
                    table.add_row(f"[red]rejected: {state_label(code)}[/]", f"{count:,}")
            else:
                table.add_row("rejected", "0")
            table.add_row(
                self._flag("unknown delivery", "unknown"), f"{self.outcomes['unknown']:,}"
            )
            table.add_row(self._flag("failed", "failed"), f"{self.outcomes['failed']:,}")
        table.add_row(self._flag("invalid rows", "invalid"), f"{self.outcomes['invalid']:,}")
        if self.outcomes["not-sent"]:
            table.add_row("[red]not sent[/]", f"{self.outcomes['not-sent']:,}")
        if self.counting:
            which = "valid rows" if self.dry_run else "accepted"
            table.add_row(f"SMS parts ({which})", f"{self.parts:,}")
        if self.cost is not None:
            table.add_row(f"cost estimate ({self.price} per part)", f"{self.cost:,}")
        rate = self.rows / self.elapsed if self.elapsed > 0 else 0.0
        table.add_row("time", f"{self.elapsed:.1f} s ({rate:,.0f} rows/s)")
        self._out.print(table)
        self._out.print(f"results: {self.results_path} (one row per input row)")
        if self.problem_lines:
            more = ", ..." if self.problems > len(self.problem_lines) else ""
            self._out.print(f"rows with problems: {', '.join(self.problem_lines)}{more}")
        if self.outcomes["unknown"]:
            self._out.print(
                f"{self.outcomes['unknown']:,} message(s) may have been sent although no answer"
                " came back: do not resend them blindly (outcome 'unknown' in the results)"
            )
        if self.stopped == "interrupted":
            self._out.print(
                f"interrupted after line {self.last_line}: later rows were not read nor sent"
            )

    def _flag(self, label: str, outcome: str) -> str:
        return f"[red]{label}[/]" if self.outcomes[outcome] else label


class Ledger:
    """Pairs the results of ``iter_send`` with their input rows, and keeps input order.

    Rows that never reach the client (unreadable, or refused while parsing) wait in the queue
    behind the rows sent before them, so the results file stays in input order. The queue holds
    at most the client's read-ahead: one wave of batches.
    """

    def __init__(self, report: BulkReport) -> None:
        self._report = report
        self._queue: deque[Row] = deque()

    def messages(self, rows: Iterable[Row]) -> Iterator[Message]:
        for row in rows:
            if row.message is None:
                if self._queue:
                    self._queue.append(row)
                else:
                    self._report.record(row, None)
            else:
                self._queue.append(row)
                yield row.message

    def result(self, result: SendResult) -> None:
        row = self._queue.popleft()
        if result.message is not row.message:
            raise RuntimeError("results came back out of input order")  # never: iter_send keeps it
        self._report.record(row, result)
        self._flush()

    def _flush(self) -> None:
        while self._queue and self._queue[0].message is None:
            self._report.record(self._queue.popleft(), None)

    def abandon(self, outcome: Outcome, error: str) -> None:
        """Record every row still waiting, after the run stopped early."""
        while self._queue:
            row = self._queue.popleft()
            if row.message is None:
                self._report.record(row, None)
            else:
                self._report.record(row, None, outcome=outcome, error=error)


def _results_path(args: argparse.Namespace) -> Path:
    if args.results is not None:
        path = Path(args.results)
        if args.file != "-" and path.resolve() == Path(args.file).resolve():
            raise UsageError("--results must not be the input file")
        return path
    if args.file == "-":
        folder, stem = Path.cwd(), "bulk"
    else:
        source = Path(args.file)
        folder, stem = source.parent, source.stem
    candidate = folder / f"{stem}.results.csv"
    number = 2
    while candidate.exists():
        candidate = folder / f"{stem}.results.{number}.csv"
        number += 1
    return candidate


def _cmd_bulk(session: Session) -> int:
    args, out = session.args, session.out
    source = RowSource(args.file, args.input_format, max_parts=args.max_parts, out=out)
    try:
        client: MySMSClient | None = None
        sender: str | None = None
        if args.dry_run:
            if args.sandbox:
                _sandbox(session)
            sender = _dry_run_sender(session)
        else:
            client = _open_client(session)
        price: Decimal | None = args.price_per_part
        if price is None and session.gateway is not None:
            price = session.gateway.price_per_part
        path = _results_path(args)
        try:
            handle = open(path, "w", newline="", encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
        except OSError as error:
            raise UsageError(f"cannot write {path}: {error.strerror or error}") from None
        with handle:
            writer = csv.writer(handle)
            writer.writerow(RESULT_COLUMNS)
            label = "checking" if args.dry_run else "sending"
            meter = Meter(out, label=label, total=source.count_rows(), unit="rows", rate=True)
            report = BulkReport(
                out,
                source=source.name,
                results_path=path,
                writer=writer,
                meter=meter,
                dry_run=args.dry_run,
                price=price,
            )
            try:
                if client is None:
                    code = _check_rows(session, source, report, sender)
                else:
                    code = _send_rows(session, client, source, report)
            finally:
                report.elapsed = time.monotonic() - report.started
                meter.finish(complete=report.stopped is None)
    finally:
        source.close()
    report.show()
    if code != EXIT_OK:
        return code
    return EXIT_OK if report.all_good else EXIT_PROBLEMS


def _dry_run_sender(session: Session) -> str | None:
    """The sender a client would default to: --sender, the sandbox's, or ``MYSMS_SENDER``."""
    sender: str | None = session.args.sender
    if sender is None:
        if session.gateway is not None:
            sender = session.gateway.accounts[0].senders[0]
        else:
            sender = os.environ.get(ENV_SENDER) or None
    try:
        return None if sender is None else validate_sender(sender)
    except ValidationError as error:
        raise UsageError(_describe_validation(error)) from None


def _check_rows(session: Session, source: RowSource, report: BulkReport, sender: str | None) -> int:
    """``--dry-run``: each row through the parser and the client's own validation; no I/O."""
    timezone = zoneinfo.ZoneInfo(C.DEFAULT_TIMEZONE)
    try:
        for row in source.rows():
            if row.message is not None:
                try:
                    to_wire(row.message, sender, timezone)
                except ValidationError as error:
                    row.error = _describe_validation(error)
            report.record(row, None)
    except KeyboardInterrupt:
        report.stopped = "interrupted"
        session.out.error("interrupted", "KeyboardInterrupt")
        return EXIT_INTERRUPTED
    return EXIT_OK


def _send_rows(session: Session, client: MySMSClient, source: RowSource, report: BulkReport) -> int:
    out = session.out
    ledger = Ledger(report)

    async def run() -> None:
        async with client:
            async for result in client.iter_send(ledger.messages(source.rows())):
                ledger.result(result)

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        ledger.abandon(
            "unknown", "interrupted while in flight: may have been sent; check before resending"
        )
        report.stopped = "interrupted"
        out.error("interrupted", "KeyboardInterrupt")
        return EXIT_INTERRUPTED
    except AuthError:
        ledger.abandon("not-sent", "not sent: the gateway refused the username or password")
        report.stopped = "auth"
        out.error(AUTH_FAILED, "AuthError")
        return EXIT_USAGE
    except MySMSError as error:
        ledger.abandon("unknown", f"stopped by {type(error).__name__}: may have been sent")
        report.stopped = "error"
        out.error(str(error), type(error).__name__)
        return EXIT_PROBLEMS
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# emulator


class _RedactAccessLog(logging.Filter):
    """uvicorn's access log prints each request's path, query string (``p=``) included."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_text(a) if isinstance(a, str) else a for a in record.args)
        return True


def _cmd_emulator(session: Session) -> int:
    args, out = session.args, session.out
    try:
        import uvicorn
        from uvicorn.config import LOGGING_CONFIG
    except ImportError:
        raise UsageError(f"mysms emulator needs uvicorn: {EMULATOR_EXTRA}") from None
    from .testing import FakeGateway

    options: dict[str, Any] = {"delivery_delay": args.delivery_delay, "fail_share": args.fail_share}
    if args.price_per_part is not None:
        options["price_per_part"] = args.price_per_part
    gateway = FakeGateway(**options)
    account = gateway.accounts[0]
    if args.balance is not None:
        gateway.set_balance(account.username, args.balance)

    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((args.host, args.port))
    except OSError as error:
        sock.close()
        out.error(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}", "OSError")
        return EXIT_PROBLEMS
    port = sock.getsockname()[1]
    host = f"[{args.host}]" if family == socket.AF_INET6 else args.host
    base_url = f"http://{host}:{port}{gateway.base_path}"
    info = {
        "base_url": base_url,
        "username": account.username,
        "password": account.password,
        "sender": account.senders[0] if account.senders else None,
        "balance": str(gateway.balance_of(account.username)),
        "price_per_part": str(gateway.price_per_part),
    }
    if out.json:
        out.emit(info)
    else:
        print(
            f"mysms emulator: an emulated gateway on {base_url} (Ctrl-C stops it)\n"
            f"  username  {info['username']}\n"
            f"  password  {info['password']}\n"
            f"  sender    {info['sender']}\n"
            f"  balance   {info['balance']} ({info['price_per_part']} per SMS part)\n"
            f"  try:      {ENV_USERNAME}={info['username']} {ENV_PASSWORD}={info['password']}"
            f" {ENV_SENDER}={info['sender']} mysms --base-url {base_url} send 79112223333 Hi"
        )
    sys.stdout.flush()

    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["handlers"]["access"]["stream"] = "ext://sys.stderr"  # stdout is for the above
    config = uvicorn.Config(
        gateway,
        http="h11",
        lifespan="off",
        log_config=log_config,
        log_level="warning" if args.quiet else "info",
        access_log=not args.quiet,
        timeout_graceful_shutdown=1,
    )
    logging.getLogger("uvicorn.access").addFilter(_RedactAccessLog())
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn has shut down cleanly and re-raised the signal
    finally:
        sock.close()
    out.note("emulator stopped")
    return EXIT_OK


_COMMANDS: Final[dict[str, Callable[[Session], int]]] = {
    "send": _cmd_send,
    "bulk": _cmd_bulk,
    "status": _cmd_status,
    "wait": _cmd_wait,
    "balance": _cmd_balance,
    "emulator": _cmd_emulator,
}
