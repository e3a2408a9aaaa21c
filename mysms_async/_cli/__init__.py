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

``bulk`` streams its input: rows are read, validated and sent as they go by
:meth:`MySMSClient.stream_send`, and each input row gets exactly one row in the results file, in
input order, whatever happened to it: accepted (with its id), rejected (with the gateway's code),
unknown (the request may have reached the gateway: never resend such rows blindly), failed,
invalid (with the reason and its line number), or not sent.

Exit status: 0 everything accepted (``wait``: delivered), 1 something was rejected, failed, has an
unknown outcome or was an invalid row, 2 a usage or credential error (``AuthError`` included),
130 interrupted (SIGINT), 143 terminated (SIGTERM). A run whose stdout failed (a closed pipe, a
full disk) keeps working and recording, and exits 1 with one line on stderr (:mod:`._output`).

The package follows a run of the command: :mod:`._args` parses the command line, :mod:`._session`
opens a client (:mod:`._credentials` for the account, or the sandbox), :mod:`._commands` runs
``send``, ``status``, ``wait`` or ``balance``, :mod:`._bulk` runs ``bulk`` over :mod:`._rows`
and accounts for every row in :mod:`._report`, and :mod:`._emulator` serves the emulator.
:mod:`._signals` turns SIGINT and SIGTERM into a stop each command can account for.
:mod:`._output` and :mod:`._progress` are where it all goes; :mod:`._describe` says what states
mean; :mod:`._constants` holds every default.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Final

from .._constants import LOGGER_NAME
from ._args import build_parser
from ._bulk import cmd_bulk
from ._campaign import cmd_campaign
from ._commands import cmd_balance, cmd_send, cmd_status, cmd_wait
from ._constants import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE
from ._emulator import cmd_emulator
from ._output import LibraryLog, Output, UsageError, require_rich
from ._session import Session
from ._signals import Interrupted, exit_status, interrupt_signum, signal_name, sigterm_as_interrupt

__all__ = ["main"]

_COMMANDS: Final[dict[str, Callable[[Session], int]]] = {
    "send": cmd_send,
    "bulk": cmd_bulk,
    "status": cmd_status,
    "wait": cmd_wait,
    "balance": cmd_balance,
    "emulator": cmd_emulator,
    "campaign": cmd_campaign,
}


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
    library_log = logging.getLogger(LOGGER_NAME)
    handler = LibraryLog(out)
    library_log.addHandler(handler)
    try:
        with sigterm_as_interrupt():
            code = _run(session)
    finally:
        library_log.removeHandler(handler)
    return out.close(code)


def _run(session: Session) -> int:
    args, out = session.args, session.out
    try:
        if not args.json and args.command != "emulator":
            require_rich()
        return _COMMANDS[args.command](session)
    except UsageError as error:
        out.error(str(error), "UsageError")
        return EXIT_USAGE
    except (KeyboardInterrupt, Interrupted) as error:
        signum = interrupt_signum(error)
        out.error(f"interrupted ({signal_name(signum)})", "Interrupted")
        return exit_status(signum)
    except Exception as error:  # a bug: show it, but never with the password in it
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        with contextlib.suppress(OSError):
            print(out.clean(text), file=sys.stderr, end="")
        return EXIT_PROBLEMS
