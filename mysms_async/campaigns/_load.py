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
from collections.abc import AsyncIterable, Iterable, Iterator, Mapping
from typing import IO, Any, Final

from .._models import Message
from .._segments import segments
from ._rules import Outcome
from ._store import NewRow

Source = str | Iterable[Any] | AsyncIterable[Any]
"""A file path (``.csv``, ``.jsonl``/``.ndjson``), or rows: ``Message`` objects or mappings."""

_GSM_BASIC_ASCII: Final = re.compile(r"[\n\r !-Z_a-z]*")
_JSONL: Final = (".jsonl", ".ndjson", ".json")
_URLSAFE: Final = str.maketrans("+/", "-_")
_FIELDS: Final = ("destination", "text", "sender", "date", "ttl", "key")


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
    return binascii.b2a_base64(digest, newline=False).decode().translate(_URLSAFE)


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


def read_file(path: str, fmt: str | None = None) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """(line, record) pairs from a CSV (header row) or JSON Lines file, one at a time."""
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


def _csv(path: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    # The csv module reads the file itself (in C): no Python-level loop over lines.
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as stream:
        reader = csv.reader(stream)
        header = next(reader, None)
        if header is None:
            return
        names = [name.strip().lower() for name in header]
        if "destination" not in names or "text" not in names:
            raise ValueError("the CSV header must name at least the columns destination and text")
        width = len(names)
        for values in reader:
            if len(values) == width:
                yield reader.line_num, dict(zip(names, values, strict=True))
            elif values:
                line = reader.line_num
                key = make_key("\x00csv-width", ",".join(values), str(line))
                yield line, {"_bad": len(values), "key": key}


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


def row_of(line: int, record: Mapping[str, Any] | Message) -> NewRow:
    """``to_row`` with the reasons of rows the readers could not parse."""
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
