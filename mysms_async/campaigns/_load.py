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
import hashlib
import math
import re
from collections.abc import AsyncIterable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from hashlib import blake2b
from itertools import chain, islice, repeat
from operator import itemgetter
from typing import Any, Final

from .._models import Message
from .._segments import segments
from .._table import (
    BAD_BYTES,
    DEFAULT_MAX_PARTS,
    RowError,
    Table,
    csv_record,
    jsonl_record,
    message_from_record,
    printable,
    too_many_parts,
)
from ._rules import LOAD_CHUNK, Outcome
from ._store import NewRow

Source = str | Iterable[Any] | AsyncIterable[Any]
"""A file path (``.csv``, ``.jsonl``/``.ndjson``), or rows: ``Message`` objects or mappings."""

_GSM_BASIC_ASCII: Final = re.compile(r"[\n\r !-Z_a-z]*")
_JSONL: Final = (".jsonl", ".ndjson", ".json")
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
    """A field as stored with an invalid row: text as it was, numbers as text, else nothing."""
    value = record.get(name)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and name != "text":
        value = str(value)
    if not isinstance(value, str):
        return None
    value = value.strip() if name != "text" else value
    return value or None


def _clean(*values: str) -> bool:
    """No NUL byte and no byte that was not UTF-8 in any of ``values``."""
    for value in values:
        if value.isascii():  # both tests in C; the search only for the rest
            if "\x00" in value:
                return False
        elif BAD_BYTES.search(value) is not None:
            return False
    return True


def to_row(
    line: int, record: Mapping[str, Any] | Message, max_parts: int = DEFAULT_MAX_PARTS
) -> NewRow:
    """One input row as a journal row: pending, or invalid with the reason.

    The rules are the table reader's (:func:`mysms_async._table.message_from_record`), ``bulk``'s.
    """
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
            and _clean(destination, text, sender or "")
        ):
            destination = destination.strip()
            parts = count_parts(text)
            if destination and not (max_parts and parts > max_parts):
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
                    parts,
                    Outcome.PENDING,
                    None,
                )
    return _general_row(line, record, max_parts)


def _general_row(line: int, record: Mapping[str, Any] | Message, max_parts: int) -> NewRow:
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
    key = record.get("key")
    if key is not None and (isinstance(key, bool) or not isinstance(key, (str, int, float))):
        reason = "key: must be a string"
    try:
        message = message_from_record(record)
    except RowError as error:
        reason = reason or str(error)
        message = None
    date = _text(record, "date")
    if date is not None and date[-1:] in ("Z", "z"):  # stored as every Python reads it
        date = date[:-1] + "+00:00"
    destination = _text(record, "destination") or ""
    text = _text(record, "text") or ""
    key = _text(record, "key") or make_key(destination, text, _text(record, "date"))
    parts = 0
    if message is not None and reason is None:
        parts = count_parts(message.text)
        reason = too_many_parts(parts, max_parts)
    if message is None or reason is not None:
        # kept as the file had it, bytes that were not UTF-8 (and NUL) written as \xNN
        ttl = record.get("ttl")
        sender = _text(record, "sender")
        return NewRow(
            key,
            line,
            printable(destination),
            printable(text),
            None if sender is None else printable(sender),
            None if date is None else printable(date),
            ttl if isinstance(ttl, int) and not isinstance(ttl, bool) else None,
            0,
            Outcome.INVALID,
            reason,
        )
    return NewRow(
        key,
        line,
        message.destination,
        message.text,
        message.sender,
        date,
        message.ttl,
        parts,
        Outcome.PENDING,
        None,
    )


# --- files ------------------------------------------------------------------------------------


def read_file(
    path: str, fmt: str | None = None, *, max_parts: int = DEFAULT_MAX_PARTS
) -> Iterator[tuple[int, Mapping[str, Any] | NewRow]]:
    """(line, record) pairs from a CSV (header row) or JSON Lines file, one at a time.

    The file is read by :class:`mysms_async._table.Table`, ``bulk``'s reader, with its rules; a
    file it cannot read at all raises its ``TableError`` (a ``ValueError``). A record is a
    mapping, or for plain CSV rows the finished ``NewRow`` (see ``row_of``).
    """
    with Table(path, fmt, max_parts=max_parts, extra_columns=("key",)) as table:
        if table.kind == "jsonl":
            yield from _jsonl(table)
        else:
            yield from _csv(table, max_parts)


def read_chunks(
    path: str, fmt: str | None = None, *, max_parts: int = DEFAULT_MAX_PARTS, size: int = LOAD_CHUNK
) -> Iterator[list[NewRow]]:
    """:func:`read_file`'s records as journal rows (``row_of``), a list at a time (``size``
    records of the file at the most, never an empty list): a chunk of plain CSV rows is made
    with no Python step per row, neither a ``yield`` nor a call."""
    with Table(path, fmt, max_parts=max_parts, extra_columns=("key",)) as table:
        if table.kind == "jsonl":
            lines = _jsonl(table)
            while chunk := [
                row_of(line, record, max_parts) for line, record in islice(lines, size)
            ]:
                yield chunk
            return
        for _, plain, records in _csv_pieces(table, max_parts, size):
            if plain is not None:
                yield list(plain)
            elif chunk := [row_of(line, record, max_parts) for line, record in records]:
                yield chunk


def _csv(table: Table, max_parts: int) -> Iterator[tuple[int, Mapping[str, Any] | NewRow]]:
    for lines, plain, records in _csv_pieces(table, max_parts, LOAD_CHUNK):
        yield from zip(lines, plain, strict=True) if plain is not None else records


def _csv_pieces(
    table: Table, max_parts: int, size: int
) -> Iterator[
    tuple[Sequence[int], Iterator[NewRow] | None, Iterable[tuple[int, Mapping[str, Any]]]]
]:
    """A block of the file at a time: (each row's line, its journal rows when the block is plain,
    else its records one by one with their lines).

    The csv module reads the file itself (in C): no Python-level loop over lines. Rows are taken
    a block at a time, so that a block of plain rows is turned into journal rows in a few
    C-level passes (``_plain_chunk``); only a block with something unusual goes row by row.
    """
    names = table.columns
    width = len(names)
    plan = _Columns(names)
    for start, block, problem, last in table.blocks(size):
        # Each row's number is the line it ends on, as ``reader.line_num`` says after it.
        lines: Sequence[int] = range(start + 1, last + 1)
        if problem is not None or len(lines) != len(block):  # a quoted field spans lines
            lines = _end_lines(block, start)
        plain = None if problem is not None else _plain_chunk(block, lines, width, plan, max_parts)
        if plain is not None:
            yield lines, plain, ()
            continue
        records: Iterable[tuple[int, Mapping[str, Any]]] = _csv_rows(block, lines, names)
        if problem is not None:
            bad = {"_bad": problem, "key": make_key("\x00csv", problem, str(last))}
            records = chain(records, [(last, bad)])
        yield lines, None, records


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
    for values, line in zip(block, lines, strict=True):
        record = csv_record(names, values)
        if isinstance(record, str):
            key = make_key("\x00csv-width", ",".join(values), str(line))
            yield line, {"_bad": record, "key": key}
        elif record is not None:
            yield line, record


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
    block: list[list[str]], lines: Sequence[int], width: int, plan: _Columns, max_parts: int
) -> Iterator[NewRow] | None:
    """Journal rows for a chunk of plain rows in a few C-level passes; ``None``: look closer.

    Plain: every row has the header's width, a destination and a text, no date and no ttl, no
    NUL byte or byte that was not UTF-8, no text over ``max_parts`` (the same rows ``to_row``
    takes its short way), so the rows come out exactly as ``to_row`` makes
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
    joined = "".join(texts)
    if not _clean(joined, "".join(destinations)):
        return None
    senders: Iterable[str | None] = repeat(None, count)
    if plan.sender is not None:
        raw = list(map(itemgetter(plan.sender), block))
        if any(raw):
            if not _clean("".join(raw)):
                return None
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
    parts: Iterable[int]
    if joined.isascii() and not joined.encode().translate(None, _GSM_BASIC_BYTES):
        if max(map(len, texts)) <= 160:
            parts = repeat(1, count)
        else:
            parts = [1 if len(t) <= 160 else math.ceil(len(t) / 153) for t in texts]
    else:
        parts = list(map(count_parts, texts))
    if max_parts and not isinstance(parts, repeat) and max(parts) > max_parts:
        return None
    return map(
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
            strict=False,  # ``repeat`` is endless: the rows end with the keys
        ),
    )


def _jsonl(table: Table) -> Iterator[tuple[int, Mapping[str, Any]]]:
    for line, text in table.jsonl_lines():
        record = jsonl_record(text)
        if isinstance(record, str):
            yield line, {"_bad": record, "key": make_key("\x00jsonl", text.strip(), None)}
        elif record is not None:
            yield line, record


def row_of(
    line: int, record: Mapping[str, Any] | Message | NewRow, max_parts: int = DEFAULT_MAX_PARTS
) -> NewRow:
    """``to_row`` with the reasons of rows the readers could not parse.

    A ``NewRow`` is a row the CSV reader has already made (``_plain_chunk``): passed through.
    """
    if isinstance(record, NewRow):
        return record
    if isinstance(record, Mapping) and "_bad" in record:
        reason = str(record["_bad"])
        return NewRow(
            str(record["key"]), line, "", "", None, None, None, 0, Outcome.INVALID, reason
        )
    return to_row(line, record, max_parts)


def same_content(row: NewRow, stored: tuple[object, ...]) -> bool:
    """``stored``: (id, line, destination, text, sender, date, ttl) as the store returns it."""
    return (row.destination, row.text, row.sender, row.date, row.ttl) == tuple(stored[2:7])
