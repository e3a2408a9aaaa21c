"""``mysms bulk`` input: line numbers, broken rows, encodings, stdin, and an interrupted run."""

from __future__ import annotations

import io
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_helpers import Run, results, write

Mysms = Callable[..., Run]


def outcomes(path: Path) -> dict[int, tuple[str, str]]:
    return {int(row["line"]): (row["outcome"], row["error"]) for row in results(path)}


def test_line_numbers_survive_quoted_newlines_and_blank_lines(mysms: Mysms, tmp_path: Path) -> None:
    source = write(
        tmp_path / "c.csv",
        "\n"  # line 1: blank, before the header
        "Destination , TEXT\n"  # line 2: the header, in any case and spacing
        '79110000001,"two\n'  # lines 3-4: one row
        'lines"\n'
        "\n"  # line 5: blank
        "79110000002,after\n"  # line 6
        '79110000003,"x"y\n'  # line 7: not valid CSV
        "79110000004,last\n",  # line 8
    )
    run = mysms("--sandbox", "bulk", source)
    assert run.code == 1
    got = outcomes(tmp_path / "c.results.csv")
    assert {line: outcome for line, (outcome, _) in got.items()} == {
        3: "accepted",
        6: "accepted",
        7: "invalid",
        8: "accepted",
    }
    assert "not valid CSV" in got[7][1]
    assert "line 7: invalid: not valid CSV" in run.err


def test_an_unclosed_quote_swallows_rows_visibly(mysms: Mysms, tmp_path: Path) -> None:
    source = write(
        tmp_path / "c.csv",
        'destination,text\n79110000001,ok\n79110000002,"never closed\n79110000003,x\n',
    )
    run = mysms("--sandbox", "bulk", source)
    assert run.code == 1
    got = outcomes(tmp_path / "c.results.csv")
    assert got[2][0] == "accepted"
    assert got[3][0] == "invalid"
    assert "lines 3-4: invalid" in run.err


def test_too_many_fields_and_max_parts(mysms: Mysms, tmp_path: Path) -> None:
    long_text = "Привет! " * 40  # 320 UCS-2 units: 5 parts
    source = write(
        tmp_path / "c.csv",
        f"destination,text\n79110000001,Hello, world\n79110000002,{long_text}\n",
    )
    run = mysms("--sandbox", "bulk", source, "--max-parts", "4")
    got = outcomes(tmp_path / "c.results.csv")
    assert got[2][0] == "invalid" and "double quotes" in got[2][1]
    assert got[3][0] == "invalid" and "5 SMS parts" in got[3][1]
    assert run.code == 1
    unlimited = mysms("--sandbox", "--json", "bulk", source, "--max-parts", "0")
    assert unlimited.lines[1]["outcome"] == "accepted" and unlimited.lines[1]["parts"] == 5


def test_max_parts_0_lifts_the_librarys_own_limit_too(mysms: Mysms, tmp_path: Path) -> None:
    """The library refuses more than 10 parts by default (issue 14 item 8); ``--max-parts``
    is passed on to it, so ``0`` (no limit) and ``12`` still send a 12-part text."""
    long_text = "Привет! " * 100  # 800 UCS-2 units: 12 parts
    source = write(tmp_path / "c.csv", f"destination,text\n79110000002,{long_text}\n")
    for limit in ("0", "12"):
        run = mysms("--sandbox", "--json", "bulk", source, "--max-parts", limit)
        assert run.code == 0, run.err
        assert run.lines[0]["outcome"] == "accepted" and run.lines[0]["parts"] == 12
    sent = mysms("--sandbox", "--json", "send", "79110000002", long_text, "--max-parts", "0")
    assert sent.code == 0, sent.err
    refused = mysms("--sandbox", "bulk", source, "--max-parts", "11")
    assert refused.code == 1 and "12 SMS parts" in outcomes(tmp_path / "c.results.3.csv")[2][1]


def test_bytes_that_are_not_utf8_spoil_only_their_row(mysms: Mysms, tmp_path: Path) -> None:
    source = tmp_path / "c.csv"
    source.write_bytes(
        b"\xef\xbb\xbfdestination,text\n"  # a BOM, as spreadsheets write it
        b"79110000001,caf\xe9\n"  # Latin-1, not UTF-8
        b"79110000002,\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\n"  # UTF-8 Привет
    )
    run = mysms("--sandbox", "--json", "bulk", source)
    assert run.code == 1
    first, second, _ = run.lines
    assert first["outcome"] == "invalid" and "UTF-8" in first["error"]
    assert second["outcome"] == "accepted"


def test_unknown_columns_are_ignored_with_a_warning(mysms: Mysms, tmp_path: Path) -> None:
    source = write(tmp_path / "c.csv", "destination,text,customer\n79110000001,Hi,42\n")
    run = mysms("--sandbox", "bulk", source)
    assert run.code == 0
    assert "ignoring the column(s) customer" in run.err


def test_stdin(mysms: Mysms, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = b'{"destination": "79110000001", "text": "Hi"}\n'
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    monkeypatch.chdir(tmp_path)
    run = mysms("--sandbox", "--json", "bulk", "-", "--input-format", "jsonl")
    assert run.code == 0
    assert run.lines[-1]["file"] == "stdin"
    assert results(tmp_path / "bulk.results.csv")[0]["outcome"] == "accepted"


class _InterruptedInput:
    """A stdin whose reader presses Ctrl-C (a real SIGINT to this process) after ``count`` lines."""

    def __init__(self, lines: list[bytes], count: int) -> None:
        self._lines = lines
        self._count = count

    @property
    def buffer(self) -> Iterator[bytes]:
        return self._read()

    def _read(self) -> Iterator[bytes]:
        for number, line in enumerate(self._lines):
            if number == self._count:
                os.kill(os.getpid(), signal.SIGINT)
            yield line

    def isatty(self) -> bool:
        return False


def test_an_interrupted_bulk_accounts_for_every_row_read(
    mysms: Mysms, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [b"destination,text\n"] + [b"7911000%04d,text\n" % n for n in range(40)]
    monkeypatch.setattr("sys.stdin", _InterruptedInput(lines, 8))
    out = tmp_path / "r.csv"
    options = ("--sandbox", "--batch-size", "3", "--concurrency", "1")
    run = mysms(*options, "bulk", "-", "--results", out)
    assert run.code == 130
    rows = results(out)
    # Ctrl-C stops the reading; the rows already read are sent and their answers kept.
    assert [row["line"] for row in rows] == [str(n) for n in range(2, 2 + len(rows))]
    assert 7 <= len(rows) < 40
    assert [row["outcome"] for row in rows] == ["accepted"] * len(rows)
    assert "SIGINT: stopping" in run.err
    assert f"interrupted after line {len(rows) + 1}" in run.out
