"""``bulk``: every row of a file sent (or, with ``--dry-run``, checked), and accounted for.

The flow: :class:`._rows.RowSource` reads the rows, :class:`Ledger` hands their messages to
:meth:`MySMSClient.stream_send` and pairs each result with its row, :class:`._report.BulkReport`
writes the outcome. When the run stops early (SIGINT, SIGTERM, a refused password, a failure)
every row still waiting is written too, with what is known of it (the library's ``.results``
and ``leftover``, else ``unknown``), so no row is ever missing from the results file, and none
that may have been sent is ever reported as not sent. A signal first only stops the reading
(:mod:`._signals`), so that the requests in flight end with real outcomes.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import zoneinfo
from collections import deque
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO

from .. import _constants as C
from .._client import MySMSClient
from .._config import ENV_SENDER
from .._exceptions import AuthError, BaseURLError, MySMSError, ValidationError
from .._models import Message, SendResult
from .._request import to_wire, validate_sender
from ._constants import AUTH_FAILED, EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, SIGNAL_GRACE
from ._describe import describe_error, describe_validation
from ._output import UsageError
from ._progress import Meter
from ._report import BulkReport
from ._rows import Row, RowSource
from ._session import Session, open_client, sandbox
from ._signals import (
    Interrupted,
    Stop,
    exit_status,
    interrupt_signum,
    run_interruptible,
    signal_name,
)


class Ledger:
    """Pairs the results of ``stream_send`` with their input rows, and keeps input order.

    Rows that never reach the client (unreadable, or refused while parsing) wait in the queue
    behind the rows sent before them, so the results file stays in input order. The queue holds
    at most the client's read-ahead: the batches it keeps in flight or ready.
    """

    def __init__(self, report: BulkReport) -> None:
        self._report = report
        self._queue: deque[Row] = deque()
        #: Set by a signal or a failing results file: no more rows are read, so the run ends
        #: once the requests in flight are answered.
        self.stop_reading = False
        #: Outcomes the client had when the run ended early and had not handed over.
        self.leftover: list[SendResult] = []
        #: The rows still to read, kept so that a run that cannot succeed can record them.
        self._rows: Iterator[Row] | None = None

    def messages(self, rows: Iterable[Row]) -> Iterator[Message]:
        iterator = self._rows = iter(rows)
        while not self.stop_reading:
            row = next(iterator, None)
            if row is None:
                return
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
            raise RuntimeError("results came back out of input order")  # never: the client keeps it
        self._report.record(row, result)
        self._flush()

    def _flush(self) -> None:
        while self._queue and self._queue[0].message is None:
            self._report.record(self._queue.popleft(), None)

    def abandon(self, results: Iterable[SendResult] | None, error: str) -> None:
        """Record every row still waiting, after the run stopped early.

        ``results`` are the outcomes the library still knew when it stopped (an error's
        ``.results``); a row it gives none for may have been sent, so it is ``unknown`` with
        ``error``: only the library's word proves a message was not sent.
        """
        known = {id(result.message): result for result in results or ()}
        while self._queue:
            row = self._queue.popleft()
            result = None if row.message is None else known.get(id(row.message))
            if row.message is None or result is not None:
                self._report.record(row, result)
            else:
                self._report.record(row, None, outcome="unknown", error=error)

    def not_attempted(self, error: str) -> None:
        """Record every row never read as ``not-sent``: for a stop no later row can get past
        (HTTP 404/405, a wrong base URL), so the file still has one row per input row."""
        for row in self._rows or ():
            if row.message is None:
                self._report.record(row, None)
            else:
                self._report.record(row, None, outcome="not-sent", error=error)
            if self._report.results_error is not None:
                return


def _results_path(args: argparse.Namespace) -> Path | None:
    """Where the results go: ``--results`` (``-`` is stdout: ``None``), else beside FILE.

    The default is named after FILE's whole name, so that ``campaign.jsonl`` and
    ``campaign.csv`` in one folder never share one (``campaign.jsonl.results.csv`` and
    ``campaign.results.csv``: a ``.csv`` is not repeated), and numbered so that an earlier
    results file is never overwritten.
    """
    if args.results == "-":
        return None
    if args.results is not None:
        path = Path(args.results)
        if args.file != "-" and path.resolve() == Path(args.file).resolve():
            raise UsageError("--results must not be the input file")
        return path
    if args.file == "-":
        folder, stem = Path.cwd(), "bulk"
    else:
        source = Path(args.file)
        folder = source.parent
        stem = source.stem if source.suffix.lower() == ".csv" else source.name
    candidate = folder / f"{stem}.results.csv"
    number = 2
    while candidate.exists():
        candidate = folder / f"{stem}.results.{number}.csv"
        number += 1
    return candidate


def cmd_bulk(session: Session) -> int:
    args, out = session.args, session.out
    if args.results == "-" and args.json:
        raise UsageError("--results - writes the results to stdout, where --json writes: drop one")
    source = RowSource(args.file, args.input_format, max_parts=args.max_parts, out=out)
    try:
        client: MySMSClient | None = None
        sender: str | None = None
        if args.dry_run:
            if args.sandbox:
                sandbox(session)
            sender = _dry_run_sender(session)
        else:
            client = open_client(session)
        price: Decimal | None = args.price_per_part
        if price is None and session.gateway is not None:
            price = session.gateway.price_per_part
        path = _results_path(args)
        handle = _open_results(path, overwrite=args.overwrite)
        if path is None:
            out.tables_to_stderr = True  # stdout carries the results
        else:
            out.record = f"every row is in {path}"
        try:
            label = "checking" if args.dry_run else "sending"
            meter = Meter(out, label=label, total=source.count_rows(), unit="rows", rate=True)
            report = BulkReport(
                out,
                source=source.name,
                results_path=path,
                handle=handle,
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
                report.flush()
        finally:
            if path is not None:
                try:
                    handle.close()
                except OSError as error:
                    report.results_failed(error)
    finally:
        source.close()
    report.show()
    if report.results_error is not None:
        report.show_unrecorded()
        code = code if code != EXIT_OK else EXIT_PROBLEMS
    if code != EXIT_OK:
        return code
    return EXIT_OK if report.all_good else EXIT_PROBLEMS


def _open_results(path: Path | None, *, overwrite: bool) -> IO[str]:
    if path is None:
        return sys.stdout
    mode = "w" if overwrite else "x"
    try:
        return open(path, mode, newline="", encoding="utf-8", errors="backslashreplace")
    except FileExistsError:
        raise UsageError(
            f"{path} exists: name another --results file, or add --overwrite to replace it"
        ) from None
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror or error}") from None


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
        raise UsageError(describe_validation(error)) from None


def _check_rows(session: Session, source: RowSource, report: BulkReport, sender: str | None) -> int:
    """``--dry-run``: each row through the parser and the client's own validation; no I/O."""
    timezone = zoneinfo.ZoneInfo(C.DEFAULT_TIMEZONE)
    try:
        for row in source.rows():
            if row.message is not None:
                try:
                    to_wire(row.message, sender, timezone)
                except ValidationError as error:
                    row.error = describe_validation(error)
            report.record(row, None)
            if report.results_error is not None:
                break
    except KeyboardInterrupt as error:
        return _stopped(session, report, interrupt_signum(error), in_flight=False)
    return EXIT_OK


def _send_rows(session: Session, client: MySMSClient, source: RowSource, report: BulkReport) -> int:
    """Send every row; on a signal or an error, account for each row read before returning.

    A signal stops the reading, and the requests in flight are waited for (see
    :mod:`._signals`); what they do not answer in time is ``unknown``. An error the library
    raises carries ``.results``, the outcomes it still knew: those are written as they are,
    and ``unknown`` for every row it says nothing of.
    """
    out = session.out
    ledger = Ledger(report)
    stop = Stop()

    def stop_reading(signum: int) -> None:
        ledger.stop_reading = True
        report.meter.print(
            f"{signal_name(signum)}: stopping; no more rows are read, the requests in flight"
            f" may finish for {SIGNAL_GRACE:g} s (signal again to stop at once)"
        )

    stop.on_request(stop_reading)
    report.on_results_error = lambda: setattr(ledger, "stop_reading", True)

    async def run(stop: Stop) -> None:
        async with client:
            await _stream(client, ledger, source)

    try:
        run_interruptible(run, stop=stop)
    except (Interrupted, KeyboardInterrupt) as error:
        ledger.abandon(
            ledger.leftover,
            "interrupted while in flight: may have been sent; check before resending",
        )
        return _stopped(session, report, interrupt_signum(error), in_flight=True)
    except AuthError as error:
        ledger.abandon(
            [*(getattr(error, "results", None) or ()), *ledger.leftover],
            "in flight when the gateway refused the password: may have been sent; check before"
            " resending",
        )
        report.stopped = "auth"
        report.error = ("AuthError", AUTH_FAILED)
        out.error(AUTH_FAILED, "AuthError", document=False)
        return EXIT_USAGE
    except BaseURLError as error:
        # HTTP 404/405: no endpoint at --base-url; the library stopped the run at the first
        # one, and every row it read is in .results as not sent (or with its real outcome).
        ledger.abandon(
            [*error.results, *ledger.leftover],
            "in flight when the base URL was found wrong: may have been sent; check first",
        )
        ledger.not_attempted(
            f"not attempted: the run stopped at HTTP {error.status_code} (a wrong base URL)"
        )
        report.stopped = "error"
        report.error = ("BaseURLError", describe_error(error))
        out.error(describe_error(error), "BaseURLError", document=False)
        return EXIT_USAGE
    except MySMSError as error:
        kind = type(error).__name__
        ledger.abandon(
            [*(getattr(error, "results", None) or ()), *ledger.leftover],
            f"in flight when the run stopped ({kind}): may have been sent; check before resending",
        )
        report.stopped = "error"
        report.error = (kind, describe_error(error))
        out.error(describe_error(error), kind, document=False)
        return EXIT_PROBLEMS
    except Exception:  # a bug: the traceback follows, but the results file is complete first
        ledger.abandon(
            ledger.leftover, "in flight when the command failed: may have been sent; check first"
        )
        report.stopped = "error"
        raise
    if stop.signum is not None:
        return _stopped(session, report, stop.signum, in_flight=False)
    return EXIT_OK


async def _stream(client: MySMSClient, ledger: Ledger, source: RowSource) -> None:
    """Every row's message through the client, each result to the ledger as it comes.

    ``stream_send`` keeps ``max_concurrency`` requests in flight all along; on an early end its
    ``leftover`` holds the outcomes it had and did not hand over, kept for the ledger. Without
    it (an older library), ``iter_send`` sends in waves.
    """
    messages = ledger.messages(source.rows())
    stream_send = getattr(client, "stream_send", None)
    if stream_send is None:
        async for result in client.iter_send(messages):
            ledger.result(result)
        return
    stream = stream_send(messages)
    try:
        async with stream as results:
            async for result in results:
                ledger.result(result)
    finally:
        ledger.leftover = list(getattr(stream, "leftover", ()))


def _stopped(session: Session, report: BulkReport, signum: int, *, in_flight: bool) -> int:
    """The run was stopped by a signal: say so once (the summary is the JSON closing document)."""
    name = signal_name(signum)
    report.stopped = "terminated" if signum == signal.SIGTERM else "interrupted"
    text = f"{report.stopped} ({name}) after line {report.last_line}"
    if in_flight:
        text += ": the requests in flight were cancelled, their rows are unknown"
    report.error = ("Interrupted", text)
    session.out.error(text, "Interrupted", document=False)
    return exit_status(signum)
