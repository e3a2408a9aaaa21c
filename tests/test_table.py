"""The one table reader: ``bulk`` and ``campaign create`` read every file by the same rules.

Each file below is read twice, by ``bulk``'s ``Table.rows`` and by the campaign loader's
``read_file``/``row_of`` (its chunk-wide fast path included); they must agree row for row on the
line a row ends on, whether it is refused, and why.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mysms_async._table import Table, TableError
from mysms_async.campaigns._load import read_file, row_of
from mysms_async.campaigns._rules import Outcome

_CP1251 = "Привет".encode("cp1251")
_FILES: dict[str, bytes] = {
    "plain": b"destination,text\n79110000001,hello\n79110000002,world\n",
    "bom": b"\xef\xbb\xbfdestination,text\n79110000001,hello\n",
    "cp1251": b"destination,text\n79110000001," + _CP1251 + b"\n79110000002,fine\n",
    "semicolons": b"destination;text\n79110000001;hello, world\n79110000002;two\n",
    "short": b"destination,text,sender\n79110000001\n79110000002,ok\n",
    "long": b"destination,text\n79110000001,a,b\n79110000002,ok\n",
    "multiline": b'destination,text\n79110000001,"one\ntwo\nthree"\n79110000002,after\n',
    "blank": b"destination,text\n\n79110000001,hello\n , \n79110000002,after\n",
    "parts": b"destination,text\n79110000001," + b"x" * 2000 + b"\n79110000002,ok\n",
    "nul": b"destination,text\n" + b"79110000000,filler\n" * 300 + b"79110000001,a\x00b\n",
    "field": b"destination,text\n79110000001," + b"y" * 140_000 + b"\n79110000002,ok\n",
    "unclosed": b'destination,text\n79110000001,"never closed\n79110000002,ok\n',
    "dates": b"destination,text,date,ttl\n79110000001,a,2030-01-01T10:00Z,5\n79110000002,b,,0\n",
    "jsonl": b'{"destination": "79110000001", "text": "hi"}\n\nnot json\n[1]\n'
    b'{"destination": "79110000002", "text": "' + _CP1251 + b'"}\n',
}


def _bulk(path: Path) -> list[tuple[int, bool, str | None]]:
    with Table(str(path)) as table:
        return [(row.end_line, row.error is None, row.error) for row in table.rows()]


def _campaign(path: Path) -> list[tuple[int, bool, str | None]]:
    rows = [row_of(line, record) for line, record in read_file(str(path))]
    return [(row.line, row.outcome == Outcome.PENDING, row.reason) for row in rows]


@pytest.mark.parametrize("name", sorted(_FILES))
def test_bulk_and_campaign_read_a_file_alike(tmp_path: Path, name: str) -> None:
    path = tmp_path / ("rows.jsonl" if name == "jsonl" else "rows.csv")
    path.write_bytes(_FILES[name])
    bulk = _bulk(path)
    assert bulk and bulk == _campaign(path)


def _reasons(name: str, tmp_path: Path) -> dict[int, str | None]:
    path = tmp_path / ("rows.jsonl" if name == "jsonl" else "rows.csv")
    path.write_bytes(_FILES[name])
    return {line: reason for line, _, reason in _campaign(path)}


def test_the_rules_a_campaign_now_follows(tmp_path: Path) -> None:
    # Before: CP1251 decoded with U+FFFD and loaded; a semicolon file refused whole; no parts
    # limit; a short row refused for its width; a NUL byte loaded; a long field a traceback.
    assert _reasons("cp1251", tmp_path) == {
        2: "text: is not valid UTF-8 (save the file as CSV UTF-8)",
        3: None,
    }
    assert _reasons("semicolons", tmp_path) == {2: None, 3: None}
    assert _reasons("parts", tmp_path)[2] == "text: needs 14 SMS parts, more than --max-parts 10"
    assert _reasons("short", tmp_path)[2] == "text: is required and must not be empty"
    assert _reasons("nul", tmp_path)[302] == "text: contains a NUL byte, which no SMS can carry"
    field = _reasons("field", tmp_path)
    assert any("longer than 131,072 characters" in (reason or "") for reason in field.values())
    assert _reasons("dates", tmp_path)[3] == "ttl: '0' is not a positive whole number (minutes)"
    assert _reasons("jsonl", tmp_path) == {
        1: None,
        3: "not valid JSON: Expecting value at column 1",
        4: "is not a JSON object",
        5: "is not valid UTF-8 (save the file as UTF-8)",
    }


def test_max_parts_zero_is_no_limit(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_bytes(_FILES["parts"])
    rows = [row_of(line, record, 0) for line, record in read_file(str(path), max_parts=0)]
    assert [row.parts for row in rows] == [14, 1]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "is empty"),
        (b"\n\n", "is empty"),
        (b"PK\x03\x04\x00\x00", "not a text file (an Excel workbook?)"),
        (b"phone,message\n1,2\n", "must name the columns destination and text"),
    ],
)
def test_a_file_that_cannot_be_read_is_one_clear_error(
    tmp_path: Path, content: bytes, words: str
) -> None:
    path = tmp_path / "rows.csv"
    path.write_bytes(content)
    with pytest.raises(TableError, match=re.escape(words)):
        Table(str(path))
    with pytest.raises(TableError, match=re.escape(words)):
        list(read_file(str(path)))


def test_a_json_number_key_is_still_a_key() -> None:
    row = row_of(1, {"destination": "79110000001", "text": "hi", "key": 5, "date": ""})
    assert (row.key, row.outcome) == ("5", Outcome.PENDING)
    row = row_of(2, {"destination": "79110000001", "text": "hi", "key": ["x"]})
    assert (row.outcome, row.reason) == (Outcome.INVALID, "key: must be a string")
