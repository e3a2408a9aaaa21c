"""``bulk``: every row of a file sent (or, with ``--dry-run``, checked), and accounted for.

The flow: :class:`._rows.RowSource` reads the rows, :class:`Ledger` hands their messages to
:meth:`MySMSClient.iter_send` and pairs each result with its row, :class:`._report.BulkReport`
writes the outcome. When the run stops early (Ctrl-C, a refused password, a failure) every row
still waiting is written too, with what is known of it, so no row is ever missing from the
results file, and none that may have been sent is ever reported as not sent.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import time
import zoneinfo
from collections import deque
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path

from .. import _constants as C
from .._client import MySMSClient
from .._config import ENV_SENDER
from .._exceptions import AuthError, MySMSError, ValidationError
from .._models import Message, SendResult
from .._request import to_wire, validate_sender
from ._constants import AUTH_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE
from ._describe import describe_validation
from ._output import UsageError
from ._progress import Meter
from ._report import RESULT_COLUMNS, BulkReport, Outcome
from ._rows import Row, RowSource
from ._session import Session, open_client, sandbox


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


def cmd_bulk(session: Session) -> int:
    args, out = session.args, session.out
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
