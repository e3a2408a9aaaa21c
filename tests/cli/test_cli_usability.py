"""What a new user hit (issue 9, items 7 and 8): limits, input files, names, messages."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import Run, results, write

import mysms_async._cli as cli
from mysms_async.testing import FakeGateway

Mysms = Callable[..., Run]
Served = tuple[FakeGateway, str]


def test_send_has_the_parts_limit_of_bulk(mysms: Mysms, served: Served) -> None:
    gateway, url = served
    long_text = "x" * 5000  # 33 parts
    run = mysms("--base-url", url, "send", "79112223333", long_text)
    assert run.code == 2
    assert "33 SMS parts" in run.err and "--max-parts 10" in run.err
    assert gateway.requests == []  # refused before any I/O
    allowed = mysms(
        "--base-url", url, "--json", "send", "79112223333", long_text, "--max-parts", "0"
    )
    assert allowed.code == 0 and allowed.document["parts"] == 33


def test_semicolon_separated_csv_is_read(mysms: Mysms, tmp_path: Path) -> None:
    source = write(
        tmp_path / "excel.csv",
        "destination;text\n79110000001;Привет, мир\n79110000002;second\n",
    )
    run = mysms("--sandbox", "bulk", source)
    assert run.code == 0, run.err
    assert "semicolon" in run.err
    rows = results(tmp_path / "excel.results.csv")
    assert [(row["line"], row["outcome"]) for row in rows] == [("2", "accepted"), ("3", "accepted")]


def test_a_binary_file_is_named_as_such(mysms: Mysms, tmp_path: Path) -> None:
    source = tmp_path / "book.csv"
    source.write_bytes(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00b\xee\x9dh^\x01\x00\x00")
    run = mysms("--sandbox", "bulk", source)
    assert run.code == 2
    assert "not a text file" in run.err
    assert "NUL" not in run.err and "line contains" not in run.err  # no Python csv wording


def test_results_are_named_after_the_whole_input_name(mysms: Mysms, tmp_path: Path) -> None:
    csv_source = write(tmp_path / "campaign.csv", "destination,text\n79110000001,Hi\n")
    jsonl_source = write(
        tmp_path / "campaign.jsonl", '{"destination": "79110000002", "text": "Hi"}\n'
    )
    assert mysms("--sandbox", "bulk", csv_source).code == 0
    assert mysms("--sandbox", "bulk", jsonl_source).code == 0
    assert results(tmp_path / "campaign.results.csv")[0]["destination"] == "79110000001"
    assert results(tmp_path / "campaign.jsonl.results.csv")[0]["destination"] == "79110000002"
    assert not (tmp_path / "campaign.results.2.csv").exists()


def test_results_to_stdout(mysms: Mysms, tmp_path: Path) -> None:
    source = write(tmp_path / "c.csv", "destination,text\n79110000001,Hi\n79110000002,There\n")
    run = mysms("--sandbox", "bulk", source, "--results", "-")
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0] == "line,destination,outcome,id,state,parts,error"
    assert [line.split(",")[2] for line in lines[1:]] == ["accepted", "accepted"]
    assert "bulk send" in run.err  # the summary moved to stderr
    assert not list(tmp_path.glob("*.results*.csv"))
    both = mysms("--sandbox", "--json", "bulk", source, "--results", "-")
    assert both.code == 2 and "--json" in both.err


def test_an_explicit_results_file_is_never_overwritten_silently(
    mysms: Mysms, tmp_path: Path
) -> None:
    source = write(tmp_path / "c.csv", "destination,text\n79110000001,Hi\n")
    out = write(tmp_path / "out.csv", "yesterday's results\n")
    refused = mysms("--sandbox", "bulk", source, "--results", out)
    assert refused.code == 2
    assert "exists" in refused.err and "--overwrite" in refused.err
    assert out.read_text() == "yesterday's results\n"
    replaced = mysms("--sandbox", "bulk", source, "--results", out, "--overwrite")
    assert replaced.code == 0
    assert results(out)[0]["outcome"] == "accepted"


def test_quiet_silences_the_sandbox_note(mysms: Mysms) -> None:
    assert "sandbox" in mysms("--sandbox", "--json", "balance").err
    quiet = mysms("--sandbox", "-q", "--json", "balance")
    assert quiet.code == 0 and quiet.err == ""


def test_library_warnings_carry_the_command_name(
    mysms: Mysms, monkeypatch: pytest.MonkeyPatch
) -> None:
    def balance_that_warns(session: object) -> int:
        logging.getLogger("mysms_async").warning("send of %d message(s) cancelled", 3)
        return 0

    monkeypatch.setitem(cli._COMMANDS, "balance", balance_that_warns)
    run = mysms("--json", "balance")
    assert run.err == "mysms: warning: send of 3 message(s) cancelled\n"


def test_missing_credentials_state_the_fix_once(
    mysms: Mysms, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    run = mysms("balance")
    assert run.code == 2
    (line,) = run.err.splitlines()
    assert line.count("MYSMS_USERNAME") == 1 and line.count("MYSMS_PASSWORD") == 1
    assert "--sandbox" in line


def test_a_bad_environment_value_names_its_variable(
    mysms: Mysms, served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = served
    monkeypatch.setenv("MYSMS_FORMAT", "yaml")
    run = mysms("--base-url", url, "--json", "balance")
    assert run.code == 2
    assert "MYSMS_FORMAT" in run.document["error"]["message"]
    assert "MYSMS_FORMAT" in run.err


def test_a_404_hints_at_the_base_path(mysms: Mysms, served: Served) -> None:
    _, url = served
    wrong = url.replace("/rest/sms/", "/api/")
    run = mysms("--base-url", wrong, "balance")
    assert run.code == 2  # a configuration error (issue 14 item 7), as the README documents
    assert "/rest/sms/" in run.err


def test_send_to_a_wrong_base_path_is_not_sent_and_hints_like_balance(
    mysms: Mysms, served: Served
) -> None:
    """Before: ``DeliveryUnknownError: the gateway may have accepted 1 message(s)``, exit 1."""
    gateway, url = served
    wrong = url.replace("/rest/sms/", "/api/")
    run = mysms("--base-url", wrong, "send", "79112223333", "Hi")
    assert run.code == 2, run.err
    assert "check --base-url or MYSMS_BASE_URL" in run.err
    assert "nothing was sent" in run.err
    assert "may have accepted" not in run.err
    assert len(gateway.requests) == 1 and gateway.messages == {}  # not retried, not sent


@pytest.mark.parametrize("concurrency", ["1", "3"])
def test_bulk_stops_at_the_first_404_and_marks_no_row_unknown(
    mysms: Mysms, served: Served, tmp_path: Path, concurrency: str
) -> None:
    """Before: every row of the file was ``unknown`` ("do not resend them blindly")."""
    gateway, url = served
    wrong = url.replace("/rest/sms/", "/api/")
    rows = "".join(f"7911{n:07d},text {n}\n" for n in range(40))
    source = write(tmp_path / "c.csv", "destination,text\n" + rows)
    run = mysms(
        "--base-url", wrong, "bulk", source, "--batch-size", "2", "--concurrency", concurrency
    )
    assert run.code == 2, run.err  # a configuration error, as the README documents
    assert "check --base-url or MYSMS_BASE_URL" in run.err
    got = results(tmp_path / "c.results.csv")
    assert len(got) == 40  # every row accounted for: sent or not attempted, all not sent
    assert {row["outcome"] for row in got} == {"not-sent"}, {row["outcome"] for row in got}
    assert "not attempted" in got[-1]["error"]
    # Stopped at the first 404: at most the requests already in flight went out.
    assert 1 <= len(gateway.requests) <= int(concurrency)
    assert gateway.messages == {}
