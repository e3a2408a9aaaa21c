"""Rows in, journal rows out: CSV, JSON Lines or an (async) iterable, streamed one row at a time.

Each row gets a key: its own ``key`` column, else a hash of destination, text and date, so that
loading the same file twice adds nothing, and the same key on a different row is caught. A row
that cannot become a message is still journaled, as ``invalid`` with its reason: a campaign that
silently loses rows cannot be accounted for. Only what is certain here is checked (fields present,
a date that parses, a positive ttl); the client's own rules are applied when the row is sent, and
a row they refuse becomes ``invalid`` then.

Counting parts is the costly part of a row; a short text in the GSM basic alphabet is a single
part, told by one regular expression, and every other text goes to :func:`mysms_async.segments`.
"""

from __future__ import annotations

import binascii
import codecs
import csv
import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import AsyncIterable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from hashlib import blake2b
from itertools import islice, repeat
from operator import itemgetter
from typing import IO, Any, Final

from .._models import Message
from .._segments import segments
from ._rules import LOAD_CHUNK, Outcome
from ._store import NewRow

Source = str | Iterable[Any] | AsyncIterable[Any]
"""A file path (``.csv``, ``.jsonl``/``.ndjson``), or rows: ``Message`` objects or mappings."""

_GSM_BASIC_ASCII: Final = re.compile(r"[\n\r !-Z_a-z]*")
_JSONL: Final = (".jsonl", ".ndjson", ".json")
_FIELDS: Final = ("destination", "text", "sender", "date", "ttl", "key")
_URLSAFE_BYTES: Final = bytes.maketrans(b"+/", b"-_")
_GSM_BASIC_BYTES: Final = bytes(c for c in range(128) if _GSM_BASIC_ASCII.fullmatch(chr(c)))
"""Deleting these from an ASCII text leaves nothing when the text is GSM-basic ASCII."""
_NEW_ROW: Final = partial(tuple.__new__, NewRow)
"""``NewRow`` from one tuple of its fields, without the Python-level ``__new__``."""


def count_parts(text: str) -> int:
    """SMS parts of ``text``; the GSM-basic ASCII case without building a ``Segments``."""
    if text and text.isascii() and _GSM_BASIC_ASCII.fullmatch(text):
        return 1 if len(text) <= 160 else math.ceil(len(text) / 153)
    return segments(text).parts


def make_key(destination: str, text: str, date: str | None) -> str:
    digest = hashlib.blake2b(
        f"{destination}\x1f{text}\x1f{date or ''}".encode("utf-8", "surrogatepass"),
        digest_size=9,
    ).digest()
    # base64.urlsafe_b64encode, without its Python-level wrapper: this runs once per row.
    return binascii.b2a_base64(digest, newline=False).translate(_URLSAFE_BYTES).decode()


def _text(record: Mapping[str, Any], name: str) -> str | None:
    value = record.get(name)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and name != "text":
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"{name}: must be a string")
    value = value.strip() if name != "text" else value
    return value or None


def to_row(line: int, record: Mapping[str, Any] | Message) -> NewRow:
    """One input row as a journal row: pending, or invalid with the reason."""
    if type(record) is dict:
        # The common row (strings, no date or ttl) without the general path's checks.
        destination = record.get("destination")
        text = record.get("text")
        sender = record.get("sender") or None
        key = record.get("key") or None
        if (
            type(destination) is str
            and type(text) is str
            and text
            and not record.get("date")
            and not record.get("ttl")
            and (sender is None or type(sender) is str)
            and (key is None or type(key) is str)
        ):
            destination = destination.strip()
            if destination:
                if sender is not None:
                    sender = sender.strip() or None
                key = key.strip() if key else None
                return NewRow(
                    key or make_key(destination, text, None),
                    line,
                    destination,
                    text,
                    sender,
                    None,
                    None,
                    count_parts(text),
                    Outcome.PENDING,
                    None,
                )
    return _general_row(line, record)


def _general_row(line: int, record: Mapping[str, Any] | Message) -> NewRow:
    if isinstance(record, Message):
        date = None if record.date is None else record.date.isoformat()
        record = {
            "destination": record.destination,
            "text": record.text,
            "sender": record.sender,
            "date": date,
            "ttl": record.ttl,
        }
    reason: str | None = None
    fields: dict[str, Any] = {}
    for name in _FIELDS:
        try:
            fields[name] = _text(record, name) if name != "ttl" else record.get("ttl")
        except ValueError as error:
            reason = reason or str(error)
            fields[name] = None
    destination = fields["destination"] or ""
    text = fields["text"] or ""
    date = fields["date"]
    ttl: int | None = None
    if reason is None:
        reason = _check(fields)
    if reason is None and fields["ttl"] not in (None, ""):
        ttl = int(fields["ttl"])
    key = fields["key"] or make_key(destination, text, date)
    if reason is not None:
        return NewRow(
            key, line, destination, text, fields["sender"], date, ttl, 0, Outcome.INVALID, reason
        )
    return NewRow(
        key,
        line,
        destination,
        text,
        fields["sender"],
        date,
        ttl,
        count_parts(text),
        Outcome.PENDING,
        None,
    )


def _check(fields: Mapping[str, Any]) -> str | None:
    if not fields["destination"]:
        return "destination: is required"
    if not fields["text"]:
        return "text: is required and must not be empty"
    if fields["date"] is not None:
        try:
            dt.datetime.fromisoformat(fields["date"])
        except ValueError:
            return "date: must be an ISO 8601 date and time"
    ttl = fields["ttl"]
    if ttl not in (None, ""):
        if isinstance(ttl, bool) or not isinstance(ttl, (int, str)):
            return "ttl: must be a positive integer"
        try:
            if int(ttl) <= 0:
                return "ttl: must be a positive integer"
        except ValueError:
            return "ttl: must be a positive integer"
    return None


# --- files ------------------------------------------------------------------------------------


def read_file(
    path: str, fmt: str | None = None
) -> Iterator[tuple[int, Mapping[str, Any] | NewRow]]:
    """(line, record) pairs from a CSV (header row) or JSON Lines file, one at a time.

    A record is a mapping, or for plain CSV rows the finished ``NewRow`` (see ``row_of``).
    """
    if fmt is None:
        fmt = "jsonl" if path.lower().endswith(_JSONL) else "csv"
    if fmt != "jsonl":
        yield from _csv(path)
        return
    with open(path, "rb") as stream:
        yield from _jsonl(stream)


def _lines(stream: IO[bytes]) -> Iterator[str]:
    first = True
    for raw in stream:
        if first:
            first = False
            if raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
        yield raw.decode("utf-8", "replace")


def _csv(path: str) -> Iterator[tuple[int, Mapping[str, Any] | NewRow]]:
    # The csv module reads the file itself (in C): no Python-level loop over lines. Rows are
    # taken a chunk at a time, so that a chunk of plain rows is turned into journal rows in a
    # few C-level passes (``_plain_chunk``); only a chunk with something unusual goes row by row.
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as stream:
        reader = csv.reader(stream)
        header = next(reader, None)
        if header is None:
            return
        names = [name.strip().lower() for name in header]
        if "destination" not in names or "text" not in names:
            raise ValueError("the CSV header must name at least the columns destination and text")
        width = len(names)
        plan = _Columns(names)
        while True:
            start = reader.line_num
            block = list(islice(reader, LOAD_CHUNK))
            if not block:
                return
            # Each row's number is the line it ends on, as ``reader.line_num`` says after it.
            lines: Sequence[int] = range(start + 1, reader.line_num + 1)
            if len(lines) != len(block):  # a quoted field spans lines
                lines = _end_lines(block, start)
            rows = _plain_chunk(block, lines, width, plan)
            yield from rows if rows is not None else _csv_rows(block, lines, names)


def _end_lines(block: list[list[str]], start: int) -> list[int]:
    """The line each row ends on: the file is read in lines split at ``\\n``, ``\\r\\n`` or
    ``\\r`` (``newline=""``), and a quoted field keeps the line breaks inside it as they were."""
    lines = []
    line = start
    for values in block:
        line += 1
        for value in values:
            line += value.count("\n") + value.count("\r") - value.count("\r\n")
        lines.append(line)
    return lines


def _csv_rows(
    block: list[list[str]], lines: Sequence[int], names: list[str]
) -> Iterator[tuple[int, Mapping[str, Any]]]:
    width = len(names)
    for values, line in zip(block, lines, strict=True):
        if len(values) == width:
            yield line, dict(zip(names, values, strict=True))
        elif values:
            key = make_key("\x00csv-width", ",".join(values), str(line))
            yield line, {"_bad": len(values), "key": key}


class _Columns:
    """Where each field sits in a CSV row (``None``: no such column)."""

    def __init__(self, names: list[str]) -> None:
        def at(name: str) -> int | None:
            return names.index(name) if name in names else None

        self.destination = names.index("destination")
        self.text = names.index("text")
        self.sender = at("sender")
        self.key = at("key")
        self.dated = [i for i in (at("date"), at("ttl")) if i is not None]


def _plain_chunk(
    block: list[list[str]], lines: Sequence[int], width: int, plan: _Columns
) -> Iterator[tuple[int, NewRow]] | None:
    """Journal rows for a chunk of plain rows in a few C-level passes; ``None``: look closer.

    Plain: every row has the header's width, a destination and a text, no date and no ttl (the
    same rows ``to_row`` takes its short way), so the rows come out exactly as ``to_row`` makes
    them. Keys are hashed row by row, but encoded to text for the whole chunk at once (nine
    bytes are exactly twelve base64 characters, with no padding); parts come from the lengths
    when the whole chunk is GSM-basic ASCII.
    """
    if set(map(len, block)) != {width}:
        return None
    for column in plan.dated:
        if any(map(itemgetter(column), block)):
            return None
    texts = list(map(itemgetter(plan.text), block))
    destinations = list(map(str.strip, map(itemgetter(plan.destination), block)))
    if not all(texts) or not all(destinations):
        return None
    count = len(block)
    senders: Iterable[str | None] = repeat(None, count)
    if plan.sender is not None:
        raw = list(map(itemgetter(plan.sender), block))
        if any(raw):
            senders = [value.strip() or None for value in raw]
    own: list[str] | None = None
    if plan.key is not None:
        own = list(map(str.strip, map(itemgetter(plan.key), block)))
        if not any(own):
            own = None
    digests = b"".join(
        [
            blake2b(f"{d}\x1f{t}\x1f".encode("utf-8", "surrogatepass"), digest_size=9).digest()
            for d, t in zip(destinations, texts, strict=True)
        ]
    )
    encoded = binascii.b2a_base64(digests, newline=False).translate(_URLSAFE_BYTES).decode()
    keys = [encoded[i : i + 12] for i in range(0, 12 * count, 12)]
    if own is not None:
        keys = [mine or hashed for mine, hashed in zip(own, keys, strict=True)]
    joined = "".join(texts)
    parts: Iterable[int]
    if joined.isascii() and not joined.encode().translate(None, _GSM_BASIC_BYTES):
        if max(map(len, texts)) <= 160:
            parts = repeat(1, count)
        else:
            parts = [1 if len(t) <= 160 else math.ceil(len(t) / 153) for t in texts]
    else:
        parts = list(map(count_parts, texts))
    rows = map(
        _NEW_ROW,
        zip(
            keys,
            lines,
            destinations,
            texts,
            senders,
            repeat(None),
            repeat(None),
            parts,
            repeat(Outcome.PENDING),
            repeat(None),
        ),
    )
    return zip(lines, rows, strict=True)


def _jsonl(stream: IO[bytes]) -> Iterator[tuple[int, Mapping[str, Any]]]:
    for line, text in enumerate(_lines(stream), 1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            yield line, {"_bad": "json", "key": make_key("\x00jsonl", text.strip(), None)}
            continue
        yield line, record


def row_of(line: int, record: Mapping[str, Any] | Message | NewRow) -> NewRow:
    """``to_row`` with the reasons of rows the readers could not parse.

    A ``NewRow`` is a row the CSV reader has already made (``_plain_chunk``): passed through.
    """
    if isinstance(record, NewRow):
        return record
    if isinstance(record, Mapping) and "_bad" in record:
        reason = (
            "not a JSON object"
            if record["_bad"] == "json"
            else f"has {record['_bad']} fields where the header names another number"
        )
        return NewRow(
            str(record["key"]), line, "", "", None, None, None, 0, Outcome.INVALID, reason
        )
    return to_row(line, record)


def same_content(row: NewRow, stored: tuple[object, ...]) -> bool:
    """``stored``: (id, line, destination, text, sender, date, ttl) as the store returns it."""
    return (row.destination, row.text, row.sender, row.date, row.ttl) == tuple(stored[2:7])
