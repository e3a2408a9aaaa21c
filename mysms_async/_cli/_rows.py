"""``bulk``'s input: CSV with a header row, or JSON Lines, read one row at a time.

The file is streamed, never loaded whole, and each row keeps the line (or lines, for a quoted
text that spans several) it came from, so that every problem can be reported by line number.
A row that cannot become a message is not an error that stops the run: it carries its reason
to the results file, and the good rows after it are still sent.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from .._models import Message
from ._describe import count_parts
from ._output import Output, UsageError
from ._types import parse_iso_datetime

_BAD_BYTES: Final = re.compile("[\udc80-\udcff]")
_REQUIRED_COLUMNS: Final = ("destination", "text")
_OPTIONAL_COLUMNS: Final = ("sender", "date", "ttl")
_JSONL_SUFFIXES: Final = frozenset({".jsonl", ".ndjson", ".json"})


def _printable(text: str) -> str:
    """Undecodable input bytes (kept as surrogates) shown as ``\\xNN``, printable anywhere."""
    if _BAD_BYTES.search(text) is None:
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


#: Python's csv module words its errors for programmers; these are the same, for people.
_CSV_PROBLEMS: Final = (
    ("line contains nul", "contains a NUL byte: not text (save the file as CSV UTF-8)"),
    ("expected after", 'has a double quote inside a quoted text: write it twice ("")'),
    ("unexpected end of data", "ends inside a quoted text: a closing double quote is missing"),
    ("field larger than field limit", "has a field longer than 128 KB (an unclosed quote?)"),
    ("new-line character seen", "has a line break inside an unquoted text"),
)
_SNIFF_BYTES: Final = 4096


def _csv_problem(error: csv.Error) -> str:
    """A csv.Error in words for whoever wrote the file."""
    text = str(error).lower()
    for marker, words in _CSV_PROBLEMS:
        if marker in text:
            return f"not valid CSV: {words}"
    return "not valid CSV"


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
        #: Lines before the current CSV reader's first (a reader restarted for ``;`` counts anew).
        self._line_offset = 0
        try:
            self._refuse_binary()
        except BaseException:
            self.close()
            raise
        if self.kind == "csv":
            try:
                self._read_header(out)
            except BaseException:
                self.close()
                raise

    def _refuse_binary(self) -> None:
        """A spreadsheet or an archive is refused by name, before a parser words it oddly."""
        peek = getattr(self._stream, "peek", None)
        head: bytes = peek(_SNIFF_BYTES)[:_SNIFF_BYTES] if peek is not None else b""
        if b"\x00" in head:
            kind = " (an Excel workbook?)" if head.startswith(b"PK\x03\x04") else ""
            raise UsageError(
                f"{self.name} is not a text file{kind}: save it as CSV (UTF-8), comma or"
                " semicolon separated, with a header row destination,text"
            )

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
                raise UsageError(f"{self.name}: the header row is {_csv_problem(error)}") from None
            if any(name.strip() for name in header):
                break
        self._last_line = self._reader.line_num
        columns = [name.strip().lower() for name in header]
        if any(name not in columns for name in _REQUIRED_COLUMNS):
            semicolons = next(csv.reader([",".join(header)], delimiter=";"))
            if all(name in [n.strip().lower() for n in semicolons] for name in _REQUIRED_COLUMNS):
                # Excel's CSV in locales whose decimal mark is a comma (Russian among them)
                out.note(f"{self.name}: reading it as semicolon-separated, as its header is")
                header = semicolons
                columns = [name.strip().lower() for name in header]
                self._line_offset = self._last_line
                self._reader = csv.reader(self._lines, delimiter=";", strict=True)
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
                self._last_line = self._line_offset + reader.line_num
                yield Row(start, self._last_line, "", error=_csv_problem(error))
                continue
            self._last_line = end = self._line_offset + reader.line_num
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
        parts, _ = count_parts(message.text)
        if self._max_parts and parts > self._max_parts:
            reason = f"text needs {parts} SMS parts, more than --max-parts {self._max_parts}"
            if end > start:
                reason += " (an unclosed double quote?)"
            return Row(start, end, shown, error=reason)
        return Row(start, end, shown, message=message, parts=parts)
