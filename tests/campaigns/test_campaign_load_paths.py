"""The CSV loader's chunk-wide fast path makes exactly the rows the row-by-row path makes.

``_plain_chunk`` turns a chunk of plain rows into journal rows in a few C-level passes; a chunk
with anything unusual goes through ``to_row`` one row at a time. Keys decide what a reload adds,
and line numbers name the rows of a key clash, so the two paths must agree field for field,
including when a quoted text spans lines, and under the table reader's rules (a NUL byte, a
byte that is not UTF-8, a text over ``--max-parts``: invalid on both paths).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mysms_async._table import csv_reader
from mysms_async.campaigns._load import read_chunks, read_file, row_of, to_row

_TEXT = st.one_of(
    st.text(alphabet="abc XYZ,.!?\"'", min_size=1, max_size=200),
    st.text(alphabet="Привет, мир\n\r", min_size=1, max_size=80),
    st.text(min_size=1, max_size=30).filter(lambda t: "\x00" not in t and t.strip()),
    # the reader's rules: NUL, bytes that were not UTF-8 (surrogates), more than 10 parts
    st.text(alphabet="ab\x00", min_size=1, max_size=20),
    st.text(alphabet="ab\udcc0\udcff", min_size=1, max_size=20),
    st.text(alphabet="ab ", min_size=1530, max_size=1700),
    st.text(alphabet="яб", min_size=600, max_size=700),
)
_ROW = st.tuples(
    st.from_regex(r"\A7911[0-9]{7}\Z"),
    _TEXT,
    st.sampled_from(["", "", "MySMS"]),
    st.sampled_from(["", "", "k1", "own-key"]),
)


def _row_by_row(path: Path) -> list[tuple[int, object]]:
    """What ``to_row`` makes of each record, with the line csv says the record ends on."""
    rows = []
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as stream:
        reader = csv_reader(stream)  # Python 3.10's own csv refuses a NUL byte: not the rule here
        header = [name.strip().lower() for name in next(reader)]
        for values in reader:
            rows.append(
                (reader.line_num, to_row(reader.line_num, dict(zip(header, values, strict=False))))
            )
    return rows


def _quoted(rows: list[tuple[str, ...]]) -> str:
    """CSV lines with every field quoted (3.10's ``csv.writer`` cannot write a NUL byte)."""
    return "".join(
        ",".join('"' + field.replace('"', '""') + '"' for field in row) + "\r\n" for row in rows
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(_ROW, min_size=1, max_size=40, unique_by=lambda r: r[3] or id(r)))
def test_the_fast_path_agrees_with_to_row(tmp_path: Path, rows: list[tuple[str, ...]]) -> None:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(["destination", "text", "sender", "key"])
    # A NUL byte in a file's first 4 KB refuses it whole (a binary file): start with 5 KB of rows.
    writer.writerows([("79110000000", "x" * 100, "", f"filler{i}") for i in range(40)])
    out.write(_quoted(rows))
    path = tmp_path / "campaign.csv"
    path.write_text(out.getvalue(), encoding="utf-8", errors="surrogateescape", newline="")

    loaded = [(line, row_of(line, record)) for line, record in read_file(str(path))]

    assert loaded == _row_by_row(path)
    # ``create`` reads lists of finished rows: the same rows, chunk boundaries anywhere.
    for size in (7, 5000):
        chunks = list(read_chunks(str(path), size=size))
        assert all(0 < len(chunk) <= size + 1 for chunk in chunks)  # +1: a row csv refused
        assert [row for chunk in chunks for row in chunk] == [row for _, row in loaded]
