"""``bulk``'s input: :mod:`mysms_async._table`'s reader, its errors worded for the command line.

The file is streamed, never loaded whole, and each row keeps the line (or lines, for a quoted
text that spans several) it came from, so that every problem can be reported by line number.
A row that cannot become a message is not an error that stops the run: it carries its reason
to the results file, and the good rows after it are still sent. ``campaign create`` reads its
file with the same reader and the same rules.
"""

from __future__ import annotations

from .._table import Row, RowError, Table, TableError, message_from_record
from ._output import Output, UsageError

__all__ = ["Row", "RowError", "RowSource", "message_from_record"]


class RowSource(Table):
    """FILE, read lazily one row at a time; a CSV header is read (and checked) at once."""

    def __init__(self, path: str, input_format: str | None, *, max_parts: int, out: Output) -> None:
        try:
            super().__init__(path, input_format, max_parts=max_parts, note=out.note, warn=out.warn)
        except TableError as error:
            raise UsageError(str(error)) from None
