"""``bulk``'s accounts: one outcome per input row, and the summary at the end.

Each row is classified once and then written three ways from the same facts: a row of the
results file, a JSON Lines line with ``--json``, and a count for the summary table. Problem rows
are also named on stderr (the first few, by line number) without tearing the progress bar.

The results file is the record of truth: it is written before anything is printed, flushed to
disk every :data:`RESULTS_FLUSH_EVERY` seconds, and if it cannot be written (a full disk) the
run stops reading and every row the file may lack is written on stderr instead.
"""

from __future__ import annotations

import csv
import io
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Final, Literal

from .._exceptions import (
    AuthError,
    BaseURLError,
    DeliveryUnknownError,
    MySMSError,
    ValidationError,
)
from .._models import SendResult
from ._constants import MAX_LINES_LISTED, MAX_ROWS_REPORTED, RESULTS_FLUSH_EVERY
from ._describe import (
    describe_error,
    describe_validation,
    meaning_suffix,
    state_label,
    state_name,
    state_of,
)
from ._output import Output, new_table
from ._progress import Meter
from ._rows import Row

Outcome = Literal["accepted", "rejected", "unknown", "failed", "invalid", "valid", "not-sent"]

#: The results file's header; :meth:`BulkReport.record` writes its rows in this order.
RESULT_COLUMNS: Final = ("line", "destination", "outcome", "id", "state", "parts", "error")


def classify(row: Row, result: SendResult | None) -> tuple[Outcome, str | None, int | None, str]:
    """The outcome of one row: (outcome, id, state, error text)."""
    if row.error is not None:
        return "invalid", None, None, row.error
    if result is None:
        return "valid", None, None, ""
    error = result.error
    state = state_of(result)
    if isinstance(error, ValidationError):
        return "invalid", None, None, describe_validation(error)
    if isinstance(error, DeliveryUnknownError):
        return "unknown", None, None, f"{type(error).__name__}: {error}"
    if isinstance(error, AuthError):  # request state -1: the gateway says it did nothing
        return "not-sent", None, None, "not sent: the gateway refused the username or password"
    if isinstance(error, BaseURLError):  # HTTP 404/405: the request reached no endpoint
        return "not-sent", None, None, f"not sent: {describe_error(error)}"
    if isinstance(error, MySMSError):
        return "failed", None, None, f"{type(error).__name__}: {describe_error(error)}"
    if error is not None:
        return "failed", None, None, f"{type(error).__name__}: {error}"
    if state is not None and state < 0:
        return "rejected", result.id, state, f"{state_label(state)}{meaning_suffix(state)}"
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
        results_path: Path | None,
        handle: IO[str],
        meter: Meter,
        dry_run: bool,
        price: Decimal | None,
    ) -> None:
        self._out = out
        self._handle = handle
        self._writer = csv.writer(handle)
        self.meter = meter
        self.source = source
        self.results_path = results_path
        self.dry_run = dry_run
        self.price = price
        self.rows = 0
        self.outcomes: Counter[str] = Counter()
        self.rejected: Counter[int] = Counter()
        self.parts = 0
        self.problems = 0
        self.problem_lines: list[str] = []
        self.last_line = 0
        self.stopped: str | None = None
        #: Why the run stopped early, as (type, message), for the summary.
        self.error: tuple[str, str] | None = None
        self.started = time.monotonic()
        self.elapsed = 0.0
        #: The first error writing the results file; the rows it may lack, for stderr.
        self.results_error: OSError | None = None
        self.unrecorded: list[list[object]] = []
        #: Called once when the results file fails (``bulk`` stops reading then).
        self.on_results_error: Callable[[], None] | None = None
        self._unflushed: list[list[object]] = []
        self._flushed_at = self.started
        self._write(list(RESULT_COLUMNS))

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
        shown_state = "" if state is None else state
        self._write(
            [row.line, row.destination, outcome, message_id or "", shown_state, parts, error]
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

    def _write(self, fields: list[object]) -> None:
        """One row into the results file; flushed now and then; kept for stderr if it fails."""
        if self.results_error is not None:
            self.unrecorded.append(fields)
            return
        self._unflushed.append(fields)
        try:
            self._writer.writerow(fields)
        except OSError as error:
            self.results_failed(error)
            return
        if time.monotonic() - self._flushed_at >= RESULTS_FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        """Push the rows written so far to the file; after this they survive even SIGKILL."""
        if self.results_error is not None:
            return
        try:
            self._handle.flush()
        except OSError as error:
            self.results_failed(error)
            return
        self._unflushed.clear()
        self._flushed_at = time.monotonic()

    def results_failed(self, error: OSError) -> None:
        """The results file cannot be written: every row since the last good flush may be
        missing from it, so those and all later ones go to stderr at the end."""
        if self.results_error is not None:
            return
        self.results_error = error
        self.unrecorded.extend(self._unflushed)
        self._unflushed.clear()
        if self.on_results_error is not None:
            self.on_results_error()

    def show_unrecorded(self) -> None:
        """After a failed results file: its missing rows on stderr, as CSV, the only record."""
        error = self.results_error
        assert error is not None
        where = "stdout" if self.results_path is None else str(self.results_path)
        self._out.say(
            f"error: cannot write the results to {where} ({error.strerror or error}): no row"
            f" was read after it failed; the {len(self.unrecorded):,} row(s) it may lack follow"
        )
        for fields in self.unrecorded:
            text = io.StringIO()
            csv.writer(text, lineterminator="").writerow(fields)
            self._out.say(f"unrecorded: {text.getvalue()}")

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
            "results_file": None if self.results_path is None else str(self.results_path),
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
            "parts": self.parts,
            "price_per_part": None if self.price is None else str(self.price),
            "cost": None if self.cost is None else str(self.cost),
            "seconds": round(self.elapsed, 3),
            "stopped": self.stopped,
            "error": None
            if self.error is None
            else {"type": self.error[0], "message": self._out.clean(self.error[1])},
        }

    def show(self) -> None:
        if self._out.json:
            self._out.emit(self.summary())
            return
        title = f"{'dry run' if self.dry_run else 'bulk send'}: {self.source}"
        table = new_table("", "rows", title=title)
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
        which = "valid rows" if self.dry_run else "accepted"
        table.add_row(f"SMS parts ({which})", f"{self.parts:,}")
        if self.cost is not None:
            table.add_row(f"cost estimate ({self.price} per part)", f"{self.cost:,}")
        rate = self.rows / self.elapsed if self.elapsed > 0 else 0.0
        table.add_row("time", f"{self.elapsed:.1f} s ({rate:,.0f} rows/s)")
        self._out.print(table)
        where = "stdout" if self.results_path is None else self.results_path
        self._out.print(f"results: {where} (one row per input row)")
        if self.problem_lines:
            more = ", ..." if self.problems > len(self.problem_lines) else ""
            self._out.print(f"rows with problems: {', '.join(self.problem_lines)}{more}")
        if self.outcomes["unknown"]:
            self._out.print(
                f"{self.outcomes['unknown']:,} message(s) may have been sent although no answer"
                " came back: do not resend them blindly (outcome 'unknown' in the results)"
            )
        if self.stopped in ("interrupted", "terminated"):
            self._out.print(
                f"{self.stopped} after line {self.last_line}: later rows were not read nor sent"
            )

    def _flag(self, label: str, outcome: str) -> str:
        return f"[red]{label}[/]" if self.outcomes[outcome] else label
