"""The command line: ``mysms [global options] COMMAND [options]``.

The global options are added to the main parser and again to each command's, with their defaults
suppressed there, so that they may stand before or after the command's name.
"""

from __future__ import annotations

import argparse

from .. import __version__
from .. import _constants as C
from .._config import ENV_PASSWORD, ENV_SENDER, ENV_USERNAME
from .._constants import DEFAULT_PRICE_PER_PART, DEMO_BALANCE
from ._campaign import add_campaign_parser
from ._constants import (
    DEFAULT_MAX_PARTS,
    DEFAULT_WAIT_INTERVAL,
    DEFAULT_WAIT_TIMEOUT,
    EMULATOR_DELIVERY_DELAY,
    EMULATOR_EXTRA,
)
from ._types import (
    amount,
    non_negative_int,
    non_negative_seconds,
    port,
    positive_int,
    positive_seconds,
    share,
)

_EPILOG = f"""\
credentials:
  {ENV_USERNAME}, {ENV_PASSWORD}   the account (else you are asked, when stdin is a terminal)
  {ENV_SENDER}, MYSMS_BASE_URL, MYSMS_FORMAT, MYSMS_METHOD   defaults for the options below
  --sandbox needs none of them: it runs against an emulated gateway in this process.

exit status:
  0  everything accepted (wait: delivered)      1  something rejected, failed, unknown or invalid
  2  usage or credential error                  130  interrupted (SIGINT)   143  SIGTERM

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
        type=positive_int,
        metavar="N",
        default=default(None),
        help=f"messages per request (default: {C.DEFAULT_BATCH_SIZE})",
    )
    group.add_argument(
        "--concurrency",
        type=positive_int,
        metavar="N",
        default=default(None),
        help=f"requests in flight (default: {C.DEFAULT_MAX_CONCURRENCY})",
    )
    group.add_argument(
        "--retries",
        type=non_negative_int,
        metavar="N",
        default=default(None),
        help="retries of a failed request where retrying is safe (a send only when it provably"
        " never reached the gateway)"
        f" (default: {C.DEFAULT_MAX_RETRIES})",
    )
    group.add_argument(
        "--request-timeout",
        type=positive_seconds,
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
    group.add_argument(
        "--sandbox-reset",
        action=_ImpliesSandbox,
        nargs=0,
        default=default(False),
        help="forget the sandbox's messages and balance first (implies --sandbox)",
    )
    group.add_argument(
        "--sandbox-balance",
        action=_ImpliesSandbox,
        type=amount,
        metavar="AMOUNT",
        default=default(None),
        help="set the sandbox's balance, kept for later runs (implies --sandbox)",
    )


class _ImpliesSandbox(argparse.Action):
    """A sandbox option: stores its value (``True`` if it takes none) and turns --sandbox on."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, True if values == [] else values)
        namespace.sandbox = True


def _add_wait_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=non_negative_seconds,
        metavar="S",
        default=DEFAULT_WAIT_TIMEOUT,
        help=f"give up waiting after S seconds (default: {DEFAULT_WAIT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--interval",
        type=positive_seconds,
        metavar="S",
        default=DEFAULT_WAIT_INTERVAL,
        help=f"seconds between two status checks (default: {DEFAULT_WAIT_INTERVAL:g})",
    )


def _add_max_parts(parser: argparse.ArgumentParser, what: str) -> None:
    """One limit for ``send`` and ``bulk``: a long text costs one SMS per part."""
    parser.add_argument(
        "--max-parts",
        type=non_negative_int,
        metavar="N",
        default=DEFAULT_MAX_PARTS,
        help=f"refuse {what} needs more than N SMS parts; 0 for no limit"
        f" (default: {DEFAULT_MAX_PARTS})",
    )


def _add_input_format(parser: argparse.ArgumentParser) -> None:
    """One reader for ``bulk`` and ``campaign create`` (:mod:`mysms_async._table`)."""
    parser.add_argument(
        "--input-format",
        type=str.lower,
        choices=("csv", "jsonl"),
        help="how FILE is written: csv (a header row; comma or semicolon separated, UTF-8) or"
        " jsonl (default: from its extension, .jsonl/.ndjson/.json for JSON Lines)",
    )


def add_input_options(parser: argparse.ArgumentParser) -> None:
    """``--input-format`` and ``--max-parts``, as ``bulk`` has them, for ``campaign create``."""
    _add_input_format(parser)
    _add_max_parts(parser, "(journal as invalid) a row whose text")


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
    send.add_argument("--ttl", type=positive_int, metavar="N", help="the message's lifetime")
    send.add_argument("--wait", action="store_true", help="then wait until it is delivered")
    _add_max_parts(send, "a text that")
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
    _add_input_format(bulk)
    bulk.add_argument(
        "--results",
        metavar="PATH",
        help="where to write the results; - for stdout (default: beside FILE, named after it:"
        " campaign.csv -> campaign.results.csv, campaign.jsonl -> campaign.jsonl.results.csv,"
        " numbered so that an earlier one is never overwritten)",
    )
    bulk.add_argument(
        "--overwrite",
        action="store_true",
        help="let --results replace a file that exists (without it, that is an error)",
    )
    bulk.add_argument(
        "--dry-run",
        action="store_true",
        help="validate every row and count parts and cost; send nothing",
    )
    bulk.add_argument(
        "--price-per-part",
        type=amount,
        metavar="AMOUNT",
        help="price of one SMS part, for the cost estimate (--sandbox knows its own)",
    )
    _add_max_parts(bulk, "a row whose text")
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
    # Only the options the emulator uses: the client's global options mean nothing to it.
    emulator.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    emulator.add_argument(
        "--port",
        type=port,
        default=8080,
        help="port to listen on; 0 picks a free one (default: %(default)s)",
    )
    emulator.add_argument(
        "--delivery-delay",
        type=non_negative_seconds,
        metavar="S",
        default=EMULATOR_DELIVERY_DELAY,
        help="seconds per delivery step, queued -> handed over -> delivered"
        f" (default: {EMULATOR_DELIVERY_DELAY:g})",
    )
    emulator.add_argument(
        "--fail-share",
        type=share,
        metavar="F",
        default=0.0,
        help="share of accepted messages that end in -14, sending failed (default: 0)",
    )
    emulator.add_argument(
        "--balance",
        type=amount,
        metavar="AMOUNT",
        default=DEMO_BALANCE,
        help="the demo account's balance (default: %(default)s)",
    )
    emulator.add_argument(
        "--price-per-part",
        type=amount,
        metavar="AMOUNT",
        default=DEFAULT_PRICE_PER_PART,
        help="price charged per SMS part (default: %(default)s)",
    )
    emulator.add_argument(
        "--lenient",
        action="store_true",
        help="let through what only a strict test double refuses: unknown query parameters,"
        " a wrong content type (default: strict, HTTP 400 saying why)",
    )
    emulator.add_argument(
        "--max-records",
        type=non_negative_int,
        metavar="N",
        help="keep only the latest N messages, so a long load test's memory stays flat; a"
        " status for an older id answers -10 (default: keep all)",
    )
    emulator.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print the address and the account as one JSON document",
    )
    emulator.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="no access log (warnings and errors only)",
    )
    add_campaign_parser(commands, _add_global_options, add_input_options)
    return parser


# ---------------------------------------------------------------------------------------------
# entry point
