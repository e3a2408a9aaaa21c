"""The one table reader: CSV with a header row, or JSON Lines, for ``bulk`` and campaigns alike.

One set of rules for every input file:

* UTF-8, with or without a byte order mark. Bytes that are not UTF-8 (a CP1251 file saved by
  Excel) are kept as surrogates and the row that holds them is refused, by line number; nothing
  is ever decoded with a replacement character and sent to a person.
* CSV separated by commas, or by semicolons when the header says so (Excel in locales whose
  decimal mark is a comma, Russian among them). A quoted text may span lines; each row keeps the
  lines it came from. A short row lacks its last fields; a long one is refused. A field longer
  than 131,072 characters is refused (the ``csv`` module's limit: most often an unclosed quote).
* A blank line (or a row of blank fields) is skipped; a file with no header row is an error.
* A text with a NUL byte is refused, and so is a text longer than ``max_parts`` SMS parts
  (``0``: no limit).

The file is streamed, never loaded whole. :class:`Table` reads row by row for ``bulk``
(:meth:`Table.rows`) and a chunk at a time for a campaign's loader (:meth:`Table.blocks`), which
turns a chunk of plain rows into journal rows in a few C-level passes.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Final

from ._models import Message
from ._segments import segments

DEFAULT_MAX_PARTS: Final = 10
"""A text over this many SMS parts is refused unless the caller says otherwise."""
BAD_BYTES: Final = re.compile("[\x00\udc80-\udcff]")
"""A NUL byte, or a byte that was not UTF-8 (kept as a surrogate)."""
REQUIRED_COLUMNS: Final = ("destination", "text")
OPTIONAL_COLUMNS: Final = ("sender", "date", "ttl")
JSONL_SUFFIXES: Final = frozenset({".jsonl", ".ndjson", ".json"})
_SNIFF_BYTES: Final = 4096

#: Python's csv module words its errors for programmers; these are the same, for people.
_CSV_PROBLEMS: Final = (
    ("expected after", 'has a double quote inside a quoted text: write it twice ("")'),
    ("unexpected end of data", "ends inside a quoted text: a closing double quote is missing"),
    (
        "field larger than field limit",
        "has a field longer than 131,072 characters (an unclosed quote?)",
    ),
    ("new-line character seen", "has a line break inside an unquoted text"),
)


#: Python 3.10's csv module refuses a NUL byte itself ("line contains NUL"), where later versions
#: hand it over in its field. There a NUL crosses the parser as a lone surrogate that no decoded
#: input can hold, and comes back as itself: a NUL is refused by the same rule, with the same
#: words, on every Python.
_NUL_STAND_IN: Final = "\udc00"


def csv_reader(stream: Iterable[str], **options: Any) -> Any:
    """``csv.reader(stream, strict=True, **options)``, NUL bytes handed over on every Python."""
    if sys.version_info >= (3, 11):
        return csv.reader(stream, strict=True, **options)
    return _NulSafeReader(stream, options)


class _NulSafeReader:
    """A ``csv.reader`` for Python 3.10 that hands NUL bytes over instead of failing on them."""

    def __init__(self, stream: Iterable[str], options: dict[str, Any]) -> None:
        lines = (line.replace("\x00", _NUL_STAND_IN) for line in stream)
        self._reader = csv.reader(lines, strict=True, **options)

    @property
    def line_num(self) -> int:
        return int(self._reader.line_num)

    def __iter__(self) -> _NulSafeReader:
        return self

    def __next__(self) -> list[str]:
        row: list[str] = next(self._reader)
        if any(_NUL_STAND_IN in field for field in row):
            return [field.replace(_NUL_STAND_IN, "\x00") for field in row]
        return row


class TableError(ValueError):
    """The file as a whole cannot be read: it is missing, binary, empty, or has no usable header."""


class RowError(ValueError):
    """A row that cannot become a message; its text is the reason."""


def printable(text: str) -> str:
    """Undecodable input bytes (kept as surrogates) shown as ``\\xNN``, printable anywhere."""
    if BAD_BYTES.search(text) is None:
        return text
    return (
        text.replace("\x00", "\\x00")
        .encode("utf-8", "surrogateescape")
        .decode("utf-8", "backslashreplace")
    )


def csv_problem(error: csv.Error) -> str:
    """A csv.Error in words for whoever wrote the file."""
    text = str(error).lower()
    for marker, words in _CSV_PROBLEMS:
        if marker in text:
            return f"not valid CSV: {words}"
    return "not valid CSV"


def parts_of(text: str) -> int:
    """The SMS parts ``text`` is sent (and billed) as."""
    return segments(text).parts


def too_many_parts(parts: int, max_parts: int, spans_lines: bool = False) -> str | None:
    """The reason a text of ``parts`` parts is refused, or ``None``."""
    if not max_parts or parts <= max_parts:
        return None
    reason = f"text: needs {parts} SMS parts, more than --max-parts {max_parts}"
    return reason + " (an unclosed double quote?)" if spans_lines else reason


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


def _optional_text(record: Mapping[str, object], key: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RowError(f"{key}: must be a string")
    value = value.strip()
    return value or None


def _ttl(value: object) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        number = int(value.strip())
    if number is None or number <= 0:
        raise RowError(f"ttl: {value!r} is not a positive whole number (minutes)")
    return number


def message_from_record(record: Mapping[str, object]) -> Message:
    """Build a message from one row's fields (strings from CSV, any JSON value from JSONL)."""
    destination = record.get("destination")
    if isinstance(destination, int) and not isinstance(destination, bool):
        destination = str(destination)
    if destination is None or (isinstance(destination, str) and not destination.strip()):
        raise RowError("destination: is required")
    if not isinstance(destination, str):
        raise RowError(f"destination: must be a string of digits, not {destination!r}")
    text = record.get("text")
    if text is None or text == "":
        raise RowError("text: is required and must not be empty")
    if not isinstance(text, str):
        raise RowError("text: must be a string")
    sender = _optional_text(record, "sender")
    date_text = _optional_text(record, "date")
    ttl = _ttl(record.get("ttl"))
    for name, value in (
        ("destination", destination),
        ("text", text),
        ("sender", sender or ""),
        ("date", date_text or ""),
    ):
        bad = BAD_BYTES.search(value)
        if bad is not None:
            if bad.group() == "\x00":
                raise RowError(f"{name}: contains a NUL byte, which no SMS can carry")
            raise RowError(f"{name}: is not valid UTF-8 (save the file as CSV UTF-8)")
    try:
        date = None if date_text is None else parse_iso_datetime(date_text)
    except ValueError as error:
        raise RowError(f"date: {error}") from None
    return Message(destination.strip(), text, sender=sender, date=date, ttl=ttl)


def shown_destination(record: Mapping[str, object]) -> str:
    value = record.get("destination")
    if isinstance(value, bool) or not isinstance(value, str | int):
        return ""
    return printable(str(value).strip())


def csv_record(columns: list[str], values: list[str]) -> Mapping[str, str] | str | None:
    """One CSV row's fields by column; ``None`` for a blank row, a ``str`` reason for a long one.

    A short row lacks its last fields (they count as empty).
    """
    if not any(value.strip() for value in values):
        return None
    if len(values) > len(columns):
        return (
            f"has {len(values)} fields but the header names {len(columns)}: put a text that"
            ' contains a comma in double quotes ("...")'
        )
    return dict(zip(columns, values, strict=False))


def jsonl_record(line: str) -> Mapping[str, Any] | str | None:
    """One JSON Lines line as a mapping; ``None`` for a blank line, a ``str`` reason if bad."""
    if not line.strip():
        return None
    bad = BAD_BYTES.search(line)
    if bad is not None:
        if bad.group() == "\x00":
            return "contains a NUL byte, which no SMS can carry"
        return "is not valid UTF-8 (save the file as UTF-8)"
    try:
        record = json.loads(line)
    except ValueError as error:
        reason = getattr(error, "msg", str(error))
        column = getattr(error, "colno", None)
        where = f" at column {column}" if column else ""
        return f"not valid JSON: {reason}{where}"
    if not isinstance(record, dict):
        return "is not a JSON object"
    return record


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


def guess_kind(path: str) -> str:
    return "jsonl" if Path(path).suffix.lower() in JSONL_SUFFIXES else "csv"


Say = Callable[[str], None]


def _decoded_lines(stream: Iterable[bytes]) -> Iterator[str]:
    """Lines as text, as the C text layer makes them (a BOM dropped, surrogates kept)."""
    first = True
    for raw in stream:
        if first:
            first = False
            if raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
        yield raw.decode("utf-8", "surrogateescape")


def _quiet(_: str) -> None:
    pass


class Table:
    """FILE (``-``: standard input), read lazily; a CSV header is read (and checked) at once.

    ``extra_columns``: columns this reader knows beyond destination, text, sender, date, ttl (a
    campaign's ``key``); others are ignored, with a warning through ``warn``.
    """

    def __init__(
        self,
        path: str,
        input_format: str | None = None,
        *,
        max_parts: int = DEFAULT_MAX_PARTS,
        extra_columns: tuple[str, ...] = (),
        note: Say = _quiet,
        warn: Say = _quiet,
    ) -> None:
        if input_format not in (None, "csv", "jsonl"):
            raise TableError(f"input format {input_format!r}: must be csv or jsonl")
        self.path = path
        self.name = "stdin" if path == "-" else path
        self.kind = input_format or guess_kind(path)
        self.max_parts = max_parts
        self.columns: list[str] = []
        self.last_line = 0
        #: Lines before the current CSV reader's first (a reader restarted for ``;`` counts anew).
        self.line_offset = 0
        self._known = REQUIRED_COLUMNS + OPTIONAL_COLUMNS + extra_columns
        try:
            raw: Any = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
        except FileNotFoundError:
            raise TableError(f"cannot read {path}: no such file") from None
        except OSError as error:
            raise TableError(f"cannot read {path}: {error.strerror or error}") from None
        self._raw = raw
        self._text: io.TextIOWrapper | None = None
        try:
            self._refuse_binary()
            self._stream: Iterator[str]
            if hasattr(raw, "peek") and hasattr(raw, "readable"):
                # The text layer is C code: BOM, surrogates for bytes that are not UTF-8.
                self._text = io.TextIOWrapper(
                    raw, encoding="utf-8-sig", errors="surrogateescape", newline=""
                )
                self._stream = self._text
            else:  # a pipe-like object that only yields lines: the same rules, line by line
                self._stream = _decoded_lines(raw)
            self.reader: Any = None
            if self.kind == "csv":
                self._read_header(note, warn)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Table:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _refuse_binary(self) -> None:
        """A spreadsheet or an archive is refused by name, before a parser words it oddly."""
        peek = getattr(self._raw, "peek", None)
        head: bytes = peek(_SNIFF_BYTES)[:_SNIFF_BYTES] if peek is not None else b""
        if b"\x00" in head:
            kind = " (an Excel workbook?)" if head.startswith(b"PK\x03\x04") else ""
            raise TableError(
                f"{self.name} is not a text file{kind}: save it as CSV (UTF-8), comma or"
                " semicolon separated, with a header row destination,text"
            )

    def close(self) -> None:
        if self.path == "-":
            if getattr(self, "_text", None) is not None:
                self._text.detach()  # type: ignore[union-attr]
            return
        self._raw.close()

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
        return max(lines - self.last_line, 0)

    def _read_header(self, note: Say, warn: Say) -> None:
        self.reader = csv_reader(self._stream)
        while True:
            try:
                header: list[str] = next(self.reader)
            except StopIteration:
                raise TableError(
                    f"{self.name} is empty: a CSV file starts with a header row naming its"
                    " columns, destination,text[,sender,date,ttl]"
                ) from None
            except csv.Error as error:
                raise TableError(f"{self.name}: the header row is {csv_problem(error)}") from None
            if any(name.strip() for name in header):
                break
        self.last_line = self.reader.line_num
        columns = [name.strip().lower() for name in header]
        if any(name not in columns for name in REQUIRED_COLUMNS):
            semicolons = next(csv.reader([",".join(header)], delimiter=";"))
            if all(name in [n.strip().lower() for n in semicolons] for name in REQUIRED_COLUMNS):
                note(f"{self.name}: reading it as semicolon-separated, as its header is")
                header = semicolons
                columns = [name.strip().lower() for name in header]
                self.line_offset = self.last_line
                self.reader = csv_reader(self._stream, delimiter=";")
        if any(name not in columns for name in REQUIRED_COLUMNS):
            shown = printable(",".join(header))[:120]
            raise TableError(
                f"{self.name}: the header row must name the columns destination and text"
                f" (and may name {', '.join(self._known[2:])}); it is: {shown}"
            )
        repeated = sorted({name for name in columns if name and columns.count(name) > 1})
        if repeated:
            raise TableError(f"{self.name}: the header names {', '.join(repeated)} twice")
        unknown = [name for name in columns if name not in self._known]
        if unknown:
            warn(f"{self.name}: ignoring the column(s) {printable(', '.join(unknown))}")
        self.columns = columns

    # --- a chunk at a time (a campaign's loader) ----------------------------------------------

    def blocks(self, size: int) -> Iterator[tuple[int, list[list[str]], str | None, int]]:
        """CSV rows ``size`` at a time: (lines before the block, its rows, a problem, last line).

        A problem (a ``csv.Error`` in words) belongs to one more row after the block's rows, one
        that ends on the last line; the reader goes on after it.
        """
        reader = self.reader
        while True:
            start = self.line_offset + reader.line_num
            block: list[list[str]] = []
            problem: str | None = None
            try:
                block.extend(islice(reader, size))  # rows read before an error are kept
            except csv.Error as error:
                problem = csv_problem(error)
            if not block and problem is None:
                return
            self.last_line = self.line_offset + reader.line_num
            yield start, block, problem, self.last_line

    def jsonl_lines(self) -> Iterator[tuple[int, str]]:
        for number, line in enumerate(self._stream, start=1):
            self.last_line = number
            yield number, line

    # --- row by row (``bulk``) ----------------------------------------------------------------

    def rows(self) -> Iterator[Row]:
        if self.kind == "csv":
            yield from self._csv_rows()
        else:
            yield from self._jsonl_rows()

    def _csv_rows(self) -> Iterator[Row]:
        reader = self.reader
        while True:
            start = self.last_line + 1
            try:
                values: list[str] = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                self.last_line = self.line_offset + reader.line_num
                yield Row(start, self.last_line, "", error=csv_problem(error))
                continue
            self.last_line = end = self.line_offset + reader.line_num
            record = csv_record(self.columns, values)
            if record is None:
                continue
            if isinstance(record, str):
                shown = shown_destination(dict(zip(self.columns, values, strict=False)))
                yield Row(start, end, shown, error=record)
                continue
            yield self.row(start, end, record)

    def _jsonl_rows(self) -> Iterator[Row]:
        for number, line in self.jsonl_lines():
            record = jsonl_record(line)
            if record is None:
                continue
            if isinstance(record, str):
                yield Row(number, number, "", error=record)
                continue
            yield self.row(number, number, record)

    def row(self, start: int, end: int, record: Mapping[str, object]) -> Row:
        shown = shown_destination(record)
        try:
            message = message_from_record(record)
        except RowError as error:
            return Row(start, end, shown, error=str(error))
        parts = parts_of(message.text)
        reason = too_many_parts(parts, self.max_parts, end > start)
        if reason is not None:
            return Row(start, end, shown, error=reason)
        return Row(start, end, shown, message=message, parts=parts)
