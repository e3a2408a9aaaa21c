"""``mysms campaign``: create, run, track, status, export and resolve a durable campaign.

The journal is ``--journal URL``, else ``MYSMS_JOURNAL``, else ``sqlite:///mysms-campaigns.db`` in
the current directory (with ``--sandbox``: ``mysms-sandbox-campaigns.db``, so that the emulated
gateway's ids never mix with a real campaign's). ``run`` handles SIGINT and SIGTERM itself: the
first stops claiming new batches and lets the requests in flight finish and be recorded; a second
cancels them, and they are recorded as ``unknown``. Exit status: 0 every message accepted, 1 some
not (or, for ``run``, something is left to do), 2 a usage or configuration error (an unusable
journal included), 130 / 143 interrupted by SIGINT / SIGTERM.

With ``--sandbox`` the emulated gateway lives inside one command, so ``run`` tracks delivery to the
end before it returns, and ``track`` in a later command has no gateway that knows the ids.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from typing import Any, Final

import anyio

from .._client import MySMSClient
from .._exceptions import AuthError, MySMSError, ValidationError
from ..campaigns import ENV_JOURNAL, Campaign, DuplicateKeyError, Journal, JournalError, Report
from ..campaigns._rules import DEFAULT_BATCH, DEFAULT_LEASE, DEFAULT_TRACK_INTERVAL
from ._constants import AUTH_FAILED, EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE
from ._output import UsageError
from ._session import Session, open_client, sandbox
from ._types import amount, parse_iso_datetime, positive_int, positive_seconds

SANDBOX_JOURNAL: Final = "sqlite:///mysms-sandbox-campaigns.db"
_SANDBOX_TRACK_TIMEOUT: Final = 10.0
_BAR_WIDTH: Final = 40

AddGlobals = Callable[..., None]


def add_campaign_parser(commands: Any, add_globals: AddGlobals) -> None:
    """Add ``campaign`` and its six subcommands to the ``mysms`` parser."""
    campaign = commands.add_parser(
        "campaign",
        help="durable campaigns: a journal that survives crashes (create, run, track, ...)",
        description="A campaign journal (SQLite file or PostgreSQL) that survives crashes and"
        " never resends a message whose outcome is unknown on its own.",
    )
    add_globals(campaign, suppress=True)
    actions = campaign.add_subparsers(dest="campaign_command", metavar="ACTION")

    def action(name: str, summary: str) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = actions.add_parser(name, help=summary, description=summary)
        sub.add_argument("name", metavar="NAME", help="the campaign's name")
        sub.add_argument(
            "--journal",
            metavar="URL",
            help=f"sqlite:///FILE or postgresql://user@host:port/db (default: ${ENV_JOURNAL},"
            " else sqlite:///mysms-campaigns.db)",
        )
        sub.add_argument(
            "--journal-password-file",
            metavar="FILE",
            help="the PostgreSQL journal's password, read from FILE (first line), so that it"
            " is not on the command line; PGPASSWORD and ~/.pgpass work too",
        )
        add_globals(sub, suppress=True)
        return sub

    create = action("create", "load a CSV or JSON Lines file into a campaign (again: adds nothing)")
    create.add_argument("file", metavar="FILE", help="destination,text[,sender,date,ttl,key] rows")
    create.add_argument("--input-format", type=str.lower, choices=("csv", "jsonl"))

    run = action(
        "run", "send the campaign's pending messages (any number of workers on PostgreSQL)"
    )
    run.add_argument("--lanes", type=positive_int, default=1, help="requests in flight")
    run.add_argument(
        "--rate-limit",
        type=positive_seconds,
        metavar="R",
        help="HTTP requests/s for the campaign: sets it for all its workers, running or to come"
        " (default: the rate the journal holds)",
    )
    run.add_argument(
        "--lease",
        type=positive_seconds,
        metavar="S",
        default=DEFAULT_LEASE,
        help=f"seconds a claim lives without renewal (default: {DEFAULT_LEASE:g})",
    )
    run.add_argument("--price-per-part", type=amount, metavar="AMOUNT")

    track = action("track", "poll the delivery state of accepted messages")
    track.add_argument("--until-final", action="store_true", help="until each one is final")
    track.add_argument("--timeout", type=positive_seconds, metavar="S", help="give up after S s")
    track.add_argument(
        "--interval", type=positive_seconds, metavar="S", default=DEFAULT_TRACK_INTERVAL
    )

    status = action("status", "counts by outcome and state, parts, cost, pace")
    status.add_argument("--price-per-part", type=amount, metavar="AMOUNT")

    export = action("export", "one row per message: key, destination, outcome, id, state, times")
    export.add_argument("--out", metavar="FILE", help="where to write (default: stdout)")
    export.add_argument(
        "--output-format",
        type=str.lower,
        choices=("csv", "jsonl"),
        help="default: from --out's extension (.jsonl), else csv",
    )

    resolve = action("resolve", "decide about messages whose outcome is unknown")
    choice = resolve.add_mutually_exclusive_group(required=True)
    choice.add_argument(
        "--resend-unknown",
        action="store_true",
        help="send them again: each may then reach its recipient twice",
    )
    choice.add_argument(
        "--skip-unknown",
        action="store_true",
        help="never resend them: they become skipped, which a later --resend-unknown leaves"
        " alone unless it names them with --key",
    )
    choice.add_argument(
        "--import",
        dest="import_file",
        metavar="FILE",
        help="put back the outcomes a worker wrote to FILE when the journal failed it",
    )
    resolve.add_argument(
        "--run",
        metavar="RUN",
        help="only those the run RUN had in flight (a run id, or a worker label for all its runs)",
    )
    resolve.add_argument(
        "--since",
        type=_when,
        metavar="TIME",
        help="only those that became unknown at TIME or later",
    )
    resolve.add_argument(
        "--until", type=_when, metavar="TIME", help="only those that became unknown up to TIME"
    )
    resolve.add_argument(
        "--key",
        action="append",
        dest="keys",
        metavar="KEY",
        help="only the message with this key (repeat it); the one way to resend a skipped one",
    )


def _when(text: str) -> dt.datetime:
    """ISO 8601 with an offset (or ``Z``): an operator's selection must not depend on a zone."""
    try:
        value = parse_iso_datetime(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a UTC offset, e.g. 2026-12-04T16:00Z")
    return value


# --- running --------------------------------------------------------------------------------


def cmd_campaign(session: Session) -> int:
    args = session.args
    command = getattr(args, "campaign_command", None)
    if command is None:
        raise UsageError(
            "mysms campaign needs an action: create, run, track, status, export, resolve"
        )
    url = getattr(args, "journal", None) or os.environ.get(ENV_JOURNAL)
    if url is None:
        url = SANDBOX_JOURNAL if args.sandbox else None
    password = _password_from(getattr(args, "journal_password_file", None))
    try:
        journal = Journal(url, password=password)
    except JournalError as error:
        raise UsageError(str(error)) from None
    try:
        return _COMMANDS[command](session, journal)
    except DuplicateKeyError as error:
        raise UsageError(str(error)) from None
    except JournalError as error:
        raise UsageError(str(error)) from None
    finally:
        journal.close()


def _password_from(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as stream:
            password = stream.readline().rstrip("\r\n")
    except OSError as error:
        raise UsageError(f"--journal-password-file {path}: {error.strerror}") from None
    if not password:
        raise UsageError(f"--journal-password-file {path}: the first line is empty")
    return password


def _campaign(journal: Journal, name: str) -> Campaign:
    try:
        return journal.campaign(name)
    except JournalError as error:
        raise UsageError(str(error)) from None


def _create(session: Session, journal: Journal) -> int:
    args, out = session.args, session.out
    if not os.path.exists(args.file):
        raise UsageError(f"{args.file}: no such file")
    try:
        campaign = asyncio.run(journal.create(args.name, args.file, input_format=args.input_format))
    except ValueError as error:
        if isinstance(error, ValidationError):
            raise
        raise UsageError(f"{args.file}: {error}") from None
    loaded = campaign.loaded
    report = campaign.report()
    if out.json:
        out.emit({"campaign": args.name, "loaded": loaded, "total": report.total})
    else:
        out.say(
            f"campaign {args.name}: {loaded['added']} added, {loaded['invalid']} invalid,"
            f" {loaded['skipped']} already there; {report.total} in all"
        )
    return EXIT_OK if report.counts["invalid"] == 0 else EXIT_PROBLEMS


def _price_of(session: Session) -> Decimal | None:
    price: Decimal | None = getattr(session.args, "price_per_part", None)
    if price is None and session.args.sandbox:
        price = sandbox(session).price_per_part
    return price


def _with_client(
    session: Session, body: Callable[[MySMSClient, anyio.Event], Awaitable[int]]
) -> int:
    """Run ``body`` with a client; the first SIGINT/SIGTERM sets the event, a second cancels."""
    client = open_client(session)
    out = session.out
    received: list[int] = []

    async def main() -> int:
        stop = anyio.Event()
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None

        def on_signal(signum: int) -> None:
            received.append(signum)
            if len(received) == 1:
                out.say("stopping: no new batches; the requests in flight are being answered")
                stop.set()
            else:
                task.cancel()

        with _signal_handlers(loop, on_signal):
            async with client:
                return await body(client, stop)

    try:
        code = asyncio.run(main())
    except asyncio.CancelledError:
        code = EXIT_PROBLEMS
    except AuthError:
        out.error(AUTH_FAILED, "AuthError")
        return EXIT_USAGE
    except ValidationError as error:
        out.error(str(error), "ValidationError")
        return EXIT_USAGE
    except JournalError as error:
        raise UsageError(str(error)) from None
    except MySMSError as error:
        out.error(str(error), type(error).__name__)
        return EXIT_PROBLEMS
    if received:
        return 128 + received[0]
    return code


@contextlib.contextmanager
def _signal_handlers(
    loop: asyncio.AbstractEventLoop, handler: Callable[[int], None]
) -> Iterator[None]:
    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, handler, signum)
            installed.append(signum)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, Windows
            pass
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
            if signum == signal.SIGINT:
                signal.signal(signal.SIGINT, signal.default_int_handler)


def _run(session: Session, journal: Journal) -> int:
    args, out = session.args, session.out
    campaign = _campaign(journal, args.name)
    batch = args.batch_size or DEFAULT_BATCH
    if args.batch_size is None:
        args.batch_size = batch  # the client sends one claim per request
    before = campaign.report()
    todo = before.counts["pending"]
    if args.rate_limit is not None and args.rate_limit != campaign.rate_limit:
        was = campaign.rate_limit
        out.say(
            f"{args.name}: rate limit {args.rate_limit:g} requests/s for all its workers,"
            f" running or to come (was {'none' if was is None else f'{was:g}'})"
        )
    shown = [0]

    def progress(summary: Any) -> None:
        done = sum(summary.outcomes.values())
        if not out.json and done - shown[0] >= max(batch, todo // 20 or 1):
            shown[0] = done
            out.say(f"{args.name}: {done} of {todo} settled by this worker")

    async def body(client: MySMSClient, stop: anyio.Event) -> int:
        summary = await campaign.run(
            client,
            batch_size=batch,
            lanes=args.lanes,
            rate_limit=args.rate_limit,
            lease=args.lease,
            stop=stop,
            on_batch=progress,
        )
        if args.sandbox and not stop.is_set():
            await campaign.track(
                client, until_final=True, timeout=_SANDBOX_TRACK_TIMEOUT, interval=0.2
            )
        report = campaign.report(price_per_part=_price_of(session))
        if out.json:
            out.emit(
                {
                    "campaign": args.name,
                    "worker": summary.worker,
                    "requests": summary.requests,
                    "this_run": dict(summary.outcomes),
                    "returned_unsent": summary.returned,
                    "stopped": summary.stopped,
                    **report.as_dict(),
                }
            )
        else:
            _show(session, report)
        return EXIT_OK if report.all_accepted else EXIT_PROBLEMS

    return _with_client(session, body)


def _track(session: Session, journal: Journal) -> int:
    args, out = session.args, session.out
    campaign = _campaign(journal, args.name)
    if args.sandbox and not _sandbox_knows(session, campaign):
        out.say(
            "sandbox: this emulated gateway does not know the ids this campaign was sent with"
            " (a sandbox that forgets between commands); `campaign run --sandbox` tracked"
            " delivery before it returned"
        )
        return _status(session, journal)

    async def body(client: MySMSClient, stop: anyio.Event) -> int:
        async with anyio.create_task_group() as group:

            async def watch() -> None:
                await stop.wait()
                group.cancel_scope.cancel()

            group.start_soon(watch)
            summary = await campaign.track(
                client, until_final=args.until_final, timeout=args.timeout, interval=args.interval
            )
            group.cancel_scope.cancel()
        report = campaign.report()
        if out.json:
            out.emit(
                {
                    "campaign": args.name,
                    "checked": summary.checked,
                    "changes": summary.changes,
                    "not_final": summary.left,
                    "timed_out": summary.timed_out,
                    **report.as_dict(),
                }
            )
        else:
            out.say(
                f"{args.name}: {summary.checked} checked, {summary.changes} changed,"
                f" {summary.left} not final yet"
            )
            _show(session, report)
        return EXIT_OK if report.all_accepted and summary.left == 0 else EXIT_PROBLEMS

    return _with_client(session, body)


def _sandbox_knows(session: Session, campaign: Campaign) -> bool:
    """Asking a gateway about ids it never gave out would mark them undelivered (-10)."""
    known = sandbox(session).messages
    for row in campaign.export_records():
        if row["outcome"] == "accepted":
            return row["id"] in known
    return True


def _status(session: Session, journal: Journal) -> int:
    args, out = session.args, session.out
    campaign = _campaign(journal, args.name)
    campaign.recover()  # what a crashed worker left in flight shows as unknown, not in flight
    report = campaign.report(price_per_part=_price_of(session))
    if out.json:
        out.emit(report.as_dict())
    else:
        _show(session, report)
    return EXIT_OK if report.all_accepted else EXIT_PROBLEMS


def _show(session: Session, report: Report) -> None:
    out = session.out
    lines = [f"campaign {report.name}: {report.total} messages, {report.parts} parts"]
    if report.total and not report.done:
        settled = report.total - report.counts["pending"] - report.counts["sending"]
        filled = settled * _BAR_WIDTH // report.total
        lines.append(
            f"  [{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] {settled} of {report.total}"
            f" settled, {report.counts['sending']} in flight"
        )
    for name, count in report.counts.items():
        if count:
            lines.append(f"  {name:<12}{count:>10}")
    for title, codes in (
        ("refused", report.refused_by_state),
        ("undelivered", report.undelivered_by_state),
        ("failed", report.failed_by_state),
    ):
        for code, count in codes.items():
            lines.append(f"    {title} with state {code}: {count}")
    if report.cost is not None:
        lines.append(f"  estimated cost: {report.cost} ({report.parts_sent} parts sent)")
    if report.rate:
        lines.append(f"  pace: {report.rate:.1f} messages/s over the last minute")
    if report.seconds_left:
        lines.append(f"  time left: about {report.seconds_left:.0f} s")
    if report.counts["unknown"]:
        lines.append(
            f"  {report.counts['unknown']} unknown: they may have reached the gateway and are"
            f" never resent on their own (mysms campaign resolve {report.name} --resend-unknown"
            " | --skip-unknown)"
        )
    if report.counts["skipped"]:
        lines.append(
            f"  {report.counts['skipped']} skipped: an operator decided never to resend them;"
            " they may have reached the gateway"
        )
    for line in lines:
        print(out.clean(line))


def _export(session: Session, journal: Journal) -> int:
    args, out = session.args, session.out
    campaign = _campaign(journal, args.name)
    fmt = args.output_format or (
        "jsonl" if args.out and args.out.lower().endswith((".jsonl", ".ndjson")) else "csv"
    )
    if args.out in (None, "-"):
        try:
            campaign.export(sys.stdout, fmt=fmt)
            sys.stdout.flush()
        except BrokenPipeError:  # `mysms campaign export NAME | head`: the reader has enough
            with contextlib.suppress(OSError, ValueError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            return EXIT_PROBLEMS
    else:
        with open(args.out, "w", encoding="utf-8", newline="") as stream:
            written = campaign.export(stream, fmt=fmt)
        out.say(f"{written} rows written to {args.out}")
    return EXIT_OK


def _resolve(session: Session, journal: Journal) -> int:
    args, out = session.args, session.out
    campaign = _campaign(journal, args.name)
    if args.import_file is not None:
        restored = campaign.restore(args.import_file)
        if out.json:
            out.emit({"campaign": args.name, "imported": restored})
        else:
            out.say(f"{restored} messages took the outcome held in {args.import_file}")
        return EXIT_OK
    moved = campaign.resolve(
        resend_unknown=bool(args.resend_unknown),
        run=args.run,
        since=args.since,
        until=args.until,
        keys=args.keys,
    )
    if out.json:
        out.emit({"campaign": args.name, "resend": args.resend_unknown, "messages": moved})
    elif args.resend_unknown:
        out.say(f"{moved} messages are pending again: the next run sends them")
    else:
        out.say(
            f"{moved} unknown messages are now skipped: no later command resends them unless it"
            " names them by key"
        )
    return EXIT_OK


_COMMANDS: Final[dict[str, Callable[[Session, Journal], int]]] = {
    "create": _create,
    "run": _run,
    "track": _track,
    "status": _status,
    "export": _export,
    "resolve": _resolve,
}
