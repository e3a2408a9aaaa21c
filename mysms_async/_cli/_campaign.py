"""``mysms campaign``: create, run, track, status, export and resolve a durable campaign.

The journal is ``--journal URL``, else ``MYSMS_JOURNAL``, else ``sqlite:///mysms-campaigns.db`` in
the current directory (with ``--sandbox``: ``mysms-sandbox-campaigns.db``, so that the emulated
gateway's ids never mix with a real campaign's). ``run`` and ``track`` stop on SIGINT and SIGTERM
by the command's one policy (:mod:`._signals`): the first signal stops claiming new batches (or
polling) and lets the requests in flight finish and be recorded; the grace period's end or a second
signal cancels them, and they are recorded as ``unknown``. Both draw :mod:`._progress`'s bar
(counts by outcome, this run's rate, an ETA) unless ``-q``. Exit status: 0 every message accepted,
1 some not (or, for ``run``, something is left to do), 2 a usage or configuration error (an unusable
journal included), 130 / 143 interrupted by SIGINT / SIGTERM.

With ``--sandbox`` the emulated gateway lives inside one command, so ``run`` tracks delivery to the
end before it returns, and ``track`` in a later command has no gateway that knows the ids.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any, Final, TypeVar

import anyio

from .._client import MySMSClient
from .._codes import state_words
from .._exceptions import ValidationError
from .._table import TableError
from ..campaigns import ENV_JOURNAL, Campaign, DuplicateKeyError, Journal, JournalError, Report
from ..campaigns._rules import DEFAULT_BATCH, DEFAULT_LEASE, DEFAULT_TRACK_INTERVAL, OUTCOME_NAMES
from ..campaigns._run import RunSummary
from ..campaigns._track import TrackSummary
from ._constants import EXIT_OK, EXIT_PROBLEMS, TRACK_PROGRESS_EVERY
from ._output import UsageError
from ._progress import Meter
from ._session import Session, run_client, sandbox
from ._signals import Stop, signal_name, uncancel_current_task
from ._types import amount, parse_iso_datetime, positive_int, positive_seconds

SANDBOX_JOURNAL: Final = "sqlite:///mysms-sandbox-campaigns.db"
_SANDBOX_TRACK_TIMEOUT: Final = 10.0
_BAR_WIDTH: Final = 40

AddGlobals = Callable[..., None]
AddInput = Callable[[argparse.ArgumentParser], None]
T = TypeVar("T")


def add_campaign_parser(commands: Any, add_globals: AddGlobals, add_input: AddInput) -> None:
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
    create.add_argument(
        "file",
        metavar="FILE",
        help="destination,text[,sender,date,ttl,key] rows, read as `mysms bulk` reads them",
    )
    add_input(create)

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
    export.add_argument(
        "--out",
        metavar="FILE",
        help="where to write (default: stdout); written under a temporary name and renamed when"
        " complete",
    )
    export.add_argument("--overwrite", action="store_true", help="replace --out FILE if it exists")
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


def shown(text: str) -> str:
    """``text`` with control characters (an ANSI escape's ESC among them) written as Python
    escapes (``\\x1b``): a name is never echoed raw to a terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


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
        # Only create makes a journal: a mistyped path elsewhere must not leave an empty file.
        journal = Journal(url, password=password, create=command == "create")
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
    try:
        campaign = asyncio.run(
            journal.create(
                args.name, args.file, input_format=args.input_format, max_parts=args.max_parts
            )
        )
    except ValueError as error:
        if isinstance(error, (ValidationError, TableError)):  # they name the field or the file
            raise UsageError(str(error)) from None
        raise UsageError(f"{args.file}: {error}") from None
    loaded = campaign.loaded
    report = campaign.report()
    if out.json:
        out.emit({"campaign": args.name, "loaded": loaded, "total": report.total})
    else:
        out.note(  # -q silences it: the exit status says whether every row was valid
            f"campaign {shown(args.name)}: {loaded['added']} added, {loaded['invalid']} invalid,"
            f" {loaded['skipped']} already there; {report.total} in all"
        )
    return EXIT_OK if report.counts["invalid"] == 0 else EXIT_PROBLEMS


def _price_of(session: Session) -> Decimal | None:
    price: Decimal | None = getattr(session.args, "price_per_part", None)
    if price is None and session.args.sandbox:
        price = sandbox(session).price_per_part
    return price


def _outcome_detail(counts: Mapping[str, int]) -> str:
    """This run's counts by outcome, the non-zero ones, in the journal's order."""
    return ", ".join(f"{name} {counts[name]:,}" for name in OUTCOME_NAMES if counts.get(name))


async def _until_stopped(stop: Stop, work: Awaitable[T]) -> T | None:
    """``work``'s result, or ``None`` if a signal asked to stop first.

    For tracking only: asking the gateway for states is read-only and each change is committed
    as it comes, so a round cut short loses nothing; the next ``track`` asks again.
    """
    result: list[T] = []
    async with anyio.create_task_group() as group:

        async def watch() -> None:
            assert stop.event is not None
            await stop.event.wait()
            group.cancel_scope.cancel()

        group.start_soon(watch)
        result.append(await work)
        group.cancel_scope.cancel()
    return result[0] if result else None


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

    async def body(client: MySMSClient) -> int:
        stop = session.stop
        assert stop is not None
        assert stop.event is not None
        meter = Meter(out, label=f"{args.name}: sending", total=todo, unit="msgs", rate=True)
        stop.on_request(lambda _: meter.halt())
        seen: list[RunSummary] = []
        kinds: set[str] = set()
        said: list[str | None] = [None]

        def progress(summary: RunSummary) -> None:
            # at once for the first batch and a new kind of outcome; else at the meter's pace
            new = not seen or summary.outcomes.keys() != kinds
            kinds.clear()
            kinds.update(summary.outcomes.keys())
            seen[:] = [summary]
            done = sum(summary.outcomes.values())
            meter.set(done, _outcome_detail(summary.outcomes), force=new)
            if summary.not_sent is not None and summary.not_sent != said[0]:
                meter.print(
                    "warning: the gateway did not take a batch; it is pending again and is"
                    f" retried (Ctrl-C to stop): {summary.not_sent}"
                )
            said[0] = summary.not_sent

        try:
            summary: RunSummary | None = await campaign.run(
                client,
                batch_size=batch,
                lanes=args.lanes,
                rate_limit=args.rate_limit,
                lease=args.lease,
                stop=stop.event,
                on_batch=progress,
            )
        except asyncio.CancelledError:  # the grace period ran out: in flight is unknown now
            if not stop.cancelled:
                raise
            uncancel_current_task()
            summary = seen[0] if seen else None
        finally:
            meter.finish(complete=not stop.requested)
        elapsed = meter.elapsed
        settled = 0 if summary is None else sum(summary.outcomes.values())
        if args.sandbox and not stop.requested:
            await _until_stopped(
                stop,
                campaign.track(
                    client, until_final=True, timeout=_SANDBOX_TRACK_TIMEOUT, interval=0.2
                ),
            )
        report = campaign.report(price_per_part=_price_of(session))
        if stop.requested:
            report.seconds_left = None  # a stopped run has no time left to promise
        rate = settled / elapsed if elapsed > 0 else 0.0
        if out.json:
            out.emit(
                {
                    "campaign": args.name,
                    "worker": None if summary is None else summary.worker,
                    "requests": 0 if summary is None else summary.requests,
                    "this_run": {} if summary is None else dict(summary.outcomes),
                    "returned_unsent": 0 if summary is None else summary.returned,
                    "stopped": stop.requested,
                    "interrupted": None if stop.signum is None else signal_name(stop.signum),
                    "run_seconds": round(elapsed, 3),
                    "run_rate": round(rate, 3),
                    **report.as_dict(),
                }
            )
        else:
            _show(session, dataclasses.replace(report, rate=0.0, seconds_left=None))
            line = f"  this run: {settled:,} settled in {elapsed:.1f} s, {rate:,.1f} messages/s"
            left = report.counts["pending"] + report.counts["sending"]
            line += (  # a worker's share is not the campaign's: say both
                f"; the campaign: {report.total - left:,} of {report.total:,} settled"
                f" ({_outcome_detail(report.counts) or 'none'}) by every worker so far"
            )
            if stop.signum is not None:
                line += f"; stopped by {signal_name(stop.signum)}"
            print(out.clean(line))
        return EXIT_OK if report.all_accepted else EXIT_PROBLEMS

    return run_client(session, body, own_errors=(JournalError,))


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

    def tracked(report: Report) -> tuple[int, int, str]:
        """Messages tracked, how many of them are final, and the counts by state."""
        delivered, undelivered = report.counts["delivered"], report.counts["undelivered"]
        waiting = report.counts["accepted"]
        detail = f"delivered {delivered:,}, undelivered {undelivered:,}, waiting {waiting:,}"
        return delivered + undelivered + waiting, delivered + undelivered, detail

    async def body(client: MySMSClient) -> int:
        stop = session.stop
        assert stop is not None
        total, final, detail = tracked(campaign.report())
        meter = Meter(
            out,
            label=f"{args.name}: tracking",
            total=total,
            unit="msgs final",
            rate=True,
            done_before=final,
        )
        meter.set(final, detail)
        stop.on_request(lambda _: meter.halt())

        async def show_progress() -> None:
            while not await stop.wait(TRACK_PROGRESS_EVERY):
                total, final, detail = tracked(campaign.report())
                meter.total = total
                meter.set(final, detail, force=False)

        summary: TrackSummary | None = None
        try:
            async with anyio.create_task_group() as group:
                if meter.mode != "off":
                    group.start_soon(show_progress)
                summary = await _until_stopped(
                    stop,
                    campaign.track(
                        client,
                        until_final=args.until_final,
                        timeout=args.timeout,
                        interval=args.interval,
                    ),
                )
                group.cancel_scope.cancel()
        except asyncio.CancelledError:  # a second signal during a store call: nothing to undo
            if not stop.cancelled:
                raise
            uncancel_current_task()
        report = campaign.report()
        meter.set(*tracked(report)[1:])
        meter.finish(complete=summary is not None and not stop.requested)
        if stop.requested:
            report.seconds_left = None
        interrupted = None if stop.signum is None else signal_name(stop.signum)
        if out.json:
            out.emit(
                {
                    "campaign": args.name,
                    "checked": None if summary is None else summary.checked,
                    "changes": None if summary is None else summary.changes,
                    "not_final": report.counts["accepted"] if summary is None else summary.left,
                    "scheduled_for_later": report.scheduled,
                    "timed_out": False if summary is None else summary.timed_out,
                    "interrupted": interrupted,
                    **report.as_dict(),
                }
            )
        else:
            if summary is None:
                out.say(
                    f"{args.name}: tracking stopped by {interrupted}; every change seen was"
                    f" recorded, {report.counts['accepted']} not final yet"
                )
            else:
                later = f" ({summary.scheduled} scheduled for later)" if summary.scheduled else ""
                out.say(
                    f"{shown(args.name)}: {summary.checked} checked, {summary.changes} changed,"
                    f" {summary.left} not final yet{later}"
                )
            _show(session, report)
        left = (
            report.counts["accepted"] - report.scheduled
            if summary is None
            else summary.left - summary.scheduled
        )
        return EXIT_OK if report.all_accepted and left == 0 else EXIT_PROBLEMS

    return run_client(session, body, own_errors=(JournalError,))


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
    lines = [f"campaign {shown(report.name)}: {report.total} messages, {report.parts} parts"]
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
        for code, count in sorted(codes.items()):
            lines.append(f"    {title} with state {state_words(code)}: {count}")
    if report.scheduled:
        lines.append(
            f"    {report.scheduled} of the accepted are scheduled for a later date: the gateway"
            " sends them then (`track` follows them; it does not wait for them)"
        )
    if report.cost is not None:
        lines.append(f"  estimated cost: {report.cost} ({report.parts_sent} parts sent)")
    if report.rate:
        lines.append(f"  pace: {report.rate:.1f} messages/s over the last minute")
    if report.seconds_left:
        lines.append(f"  time left: about {report.seconds_left:.0f} s")
    if report.counts["unknown"]:
        lines.append(
            f"  {report.counts['unknown']} unknown: they may have reached the gateway and are"
            f" never resent on their own (mysms campaign resolve {shown(report.name)}"
            " --resend-unknown"
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
        written = _export_to_file(campaign, args.out, fmt, overwrite=args.overwrite)
        out.say(f"{written} rows written to {shown(args.out)}")
    return EXIT_OK


def _export_to_file(campaign: Campaign, path: str, fmt: str, *, overwrite: bool) -> int:
    """Write the export beside ``path`` under a temporary name, then rename it to ``path``: a
    killed export leaves no partial file at the final name. An existing ``path`` is replaced only
    with ``--overwrite``; a directory, or a folder that does not exist, is a usage error."""
    target = os.path.abspath(path)
    folder = os.path.dirname(target)
    if os.path.isdir(target):
        raise UsageError(f"--out {shown(path)} is a directory: name a file in it")
    if not os.path.isdir(folder):
        raise UsageError(f"--out {shown(path)}: the folder {shown(folder)} does not exist")
    if os.path.lexists(target) and not overwrite:
        raise UsageError(f"--out {shown(path)} exists: add --overwrite to replace it")
    try:
        descriptor, temporary = tempfile.mkstemp(
            prefix=f".{os.path.basename(target)}.", suffix=".part", dir=folder
        )
    except OSError as error:
        raise UsageError(f"--out {shown(path)}: cannot write there ({error.strerror})") from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as stream:
            written = campaign.export(stream, fmt=fmt)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(error, OSError):
            raise UsageError(f"--out {shown(path)}: {error.strerror or error}") from None
        raise
    return written


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
