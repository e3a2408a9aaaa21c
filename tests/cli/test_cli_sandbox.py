"""``mysms --sandbox``: every command against the in-process emulator, with no account."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import Run, assert_no_secret, results, write

from mysms_async.testing import DEMO_PASSWORD

Mysms = Callable[..., Run]


def test_send_prints_the_id_and_state(mysms: Mysms) -> None:
    run = mysms("--sandbox", "send", "79112223333", "Привет")
    assert run.code == 0
    assert "QUEUED (2)" in run.out
    assert "1 (UCS-2)" in run.out
    assert "sandbox" in run.err
    assert len(run.err.strip().splitlines()) == 1  # the banner is one line


def test_send_json_is_one_document(mysms: Mysms) -> None:
    run = mysms("--sandbox", "--json", "send", "+7 (911) 222-33-33", "Hello")
    assert run.code == 0
    document = run.document
    assert document["accepted"] is True
    assert document["state"] == 2 and document["state_name"] == "QUEUED"
    assert len(document["id"]) == 36
    assert document["parts"] == 1 and document["encoding"] == "GSM-7"


def test_send_wait_follows_the_message_to_delivery(mysms: Mysms) -> None:
    run = mysms("--sandbox", "--json", "send", "79112223333", "Hi", "--wait", "--interval", "0.1")
    assert run.code == 0
    delivery = run.lines[0]["delivery"]
    assert delivery["state"] == 4 and delivery["final"] is True
    assert run.lines[0]["timed_out"] is False
    assert "delivered 1, failed 0, pending 0" in run.err  # the progress lines


def test_send_rejected_by_the_gateway_exits_1(mysms: Mysms) -> None:
    run = mysms("--sandbox", "--json", "--sender", "Acme", "send", "79112223333", "Hi")
    assert run.code == 1
    assert run.document["state"] == -11 and run.document["accepted"] is False


def test_send_invalid_destination_is_a_usage_error(mysms: Mysms) -> None:
    run = mysms("--sandbox", "send", "12345", "Hi")
    assert run.code == 2
    assert "destination" in run.err


def test_balance(mysms: Mysms) -> None:
    run = mysms("--sandbox", "--json", "balance")
    assert run.code == 0
    assert run.document == {"balance": "1000000.0000"}  # SANDBOX_BALANCE: kept between runs
    human = mysms("--sandbox", "balance")
    assert human.code == 0 and "1000000" in human.out


def test_status_of_an_id_the_sandbox_never_saw(mysms: Mysms) -> None:
    run = mysms("--sandbox", "--json", "status", "no-such-id", "other-id")
    assert run.code == 1
    states = [(r["id"], r["state"], r["state_name"]) for r in run.document["results"]]
    assert states == [("no-such-id", -10, "INVALID_ID"), ("other-id", -10, "INVALID_ID")]
    human = mysms("--sandbox", "status", "no-such-id")
    assert "INVALID_ID (-10)" in human.out


def test_wait_stops_at_a_final_state(mysms: Mysms) -> None:
    run = mysms("--sandbox", "--json", "wait", "no-such-id", "--timeout", "5")
    assert run.code == 1
    assert run.document["failed"] == 1 and run.document["timed_out"] is False
    assert run.document["results"][0]["state"] == -10


def test_sandbox_and_base_url_exclude_each_other(mysms: Mysms) -> None:
    run = mysms("--sandbox", "--base-url", "http://127.0.0.1:1/", "balance")
    assert run.code == 2
    assert "--base-url" in run.err


CAMPAIGN = """\
destination,text,sender,date,ttl
79110000001,Hello one,,,
79110000002,"Привет, два",,2026-12-01T10:00:00+03:00,60
12345,too short a number,,,
79110000004,,,,
79110000005,"unregistered sender",Acme,,
79110000006,"a text, with a comma",,,
79110000007,bad date,,tomorrow,
79110000008,bad ttl,,,abc
79110000009,Hello nine,MySMS,,
"""


def test_bulk_good_and_bad_rows(mysms: Mysms, tmp_path: Path) -> None:
    source = write(tmp_path / "campaign.csv", CAMPAIGN)
    run = mysms("bulk", source, "--sandbox")  # global options may follow the command
    assert run.code == 1
    rows = results(tmp_path / "campaign.results.csv")
    assert [row["line"] for row in rows] == [str(n) for n in range(2, 11)]
    outcomes = {int(row["line"]): row["outcome"] for row in rows}
    assert outcomes == {
        2: "accepted",
        3: "accepted",
        4: "invalid",
        5: "invalid",
        6: "rejected",
        7: "accepted",
        8: "invalid",
        9: "invalid",
        10: "accepted",
    }
    by_line = {int(row["line"]): row for row in rows}
    assert by_line[4]["destination"] == "12345" and "10 to 15 digits" in by_line[4]["error"]
    assert "text" in by_line[5]["error"]
    assert by_line[6]["state"] == "-11" and "INVALID_SENDER" in by_line[6]["error"]
    assert "ISO 8601" in by_line[8]["error"]
    assert "ttl" in by_line[9]["error"]
    assert all(len(by_line[n]["id"]) == 36 for n in (2, 3, 7, 10))
    for line in (4, 5, 6, 8, 9):
        assert f"line {line}:" in run.err
    assert "rejected: INVALID_SENDER (-11)" in run.out
    assert "sending: 9 of 9 rows" in run.err  # the plain progress line, stderr not a terminal


def test_bulk_all_good_exits_0_and_never_overwrites_results(mysms: Mysms, tmp_path: Path) -> None:
    source = write(tmp_path / "ok.csv", "destination,text\n79110000001,One\n79110000002,Два\n")
    first = mysms("--sandbox", "bulk", source)
    assert first.code == 0
    assert "accepted" in first.out and "cost estimate (1.50 per part)" in first.out
    second = mysms("--sandbox", "bulk", source)
    assert second.code == 0
    assert len(results(tmp_path / "ok.results.csv")) == 2
    assert len(results(tmp_path / "ok.results.2.csv")) == 2
    assert "ok.results.2.csv" in second.out


def test_bulk_json_lines(mysms: Mysms, tmp_path: Path) -> None:
    source = write(tmp_path / "c.csv", CAMPAIGN)
    run = mysms("--sandbox", "--json", "bulk", source, "--results", tmp_path / "r.csv")
    assert run.code == 1
    *rows, summary = run.lines
    assert [row["type"] for row in rows] == ["row"] * 9
    assert [row["line"] for row in rows] == list(range(2, 11))
    assert summary["type"] == "summary"
    assert summary["accepted"] == 4 and summary["invalid"] == 4
    assert summary["rejected"] == [{"state": -11, "state_name": "INVALID_SENDER", "rows": 1}]
    assert summary["parts"] == 4 and summary["cost"] == "6.00"


def test_bulk_jsonl_input(mysms: Mysms, tmp_path: Path) -> None:
    source = write(
        tmp_path / "c.jsonl",
        '{"destination": "79110000001", "text": "Hi"}\n'
        "\n"
        '{"destination": 79110000002, "text": "Привет", "ttl": 5}\n'
        "not json\n"
        '["a list"]\n'
        '{"destination": "79110000005", "text": "later", "date": "2026-12-01T10:00:00Z"}\n',
    )
    run = mysms("--sandbox", "--json", "bulk", source)
    assert run.code == 1
    rows = {row["line"]: row for row in run.lines[:-1]}
    assert {n: row["outcome"] for n, row in rows.items()} == {
        1: "accepted",
        3: "accepted",
        4: "invalid",
        5: "invalid",
        6: "accepted",
    }
    assert "not valid JSON" in rows[4]["error"]
    assert "JSON object" in rows[5]["error"]


def test_dry_run_validates_and_counts(mysms: Mysms, tmp_path: Path) -> None:
    source = write(tmp_path / "c.csv", CAMPAIGN)
    run = mysms("--sandbox", "--json", "bulk", "--dry-run", source)
    assert run.code == 1
    *rows, summary = run.lines
    assert {row["outcome"] for row in rows} == {"valid", "invalid"}
    assert not any(row["id"] for row in rows)
    # The sender is the gateway's business: a dry run cannot know Acme is not registered.
    assert summary["valid"] == 5 and summary["accepted"] == 0
    assert summary["parts"] == 5 and summary["cost"] == "7.50"


def test_the_demo_password_is_never_printed(mysms: Mysms, tmp_path: Path) -> None:
    source = write(tmp_path / "c.csv", CAMPAIGN)
    runs = [
        mysms("--sandbox", "send", "79112223333", "Hi"),
        mysms("--sandbox", "--json", "--method", "get", "send", "79112223333", "Hi"),
        mysms("--sandbox", "--method", "get", "--format", "xml", "bulk", source),
        mysms("--sandbox", "--json", "balance"),
        mysms("--sandbox", "status", "x"),
    ]
    for run in runs:
        assert_no_secret(run.out, run.err, secret=DEMO_PASSWORD)
    assert_no_secret((tmp_path / "c.results.csv").read_text(), secret=DEMO_PASSWORD)


@pytest.mark.parametrize(("wire_format", "method"), [("xml", "post"), ("json", "get")])
def test_bulk_over_every_wire_form(
    mysms: Mysms, tmp_path: Path, wire_format: str, method: str
) -> None:
    source = write(tmp_path / "c.csv", "destination,text\n79110000001,One\n79110000002,Два\n")
    run = mysms("--sandbox", "--format", wire_format, "--method", method, "--json", "bulk", source)
    assert run.code == 0
    assert run.lines[-1]["accepted"] == 2


def test_progress_bar_on_a_terminal(
    mysms: Mysms, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich: treat stderr as a terminal
    source = write(tmp_path / "c.csv", "destination,text\n79110000001,One\n79110000002,Два\n")
    run = mysms("--sandbox", "bulk", source)
    assert run.code == 0
    assert "2/2" in run.err  # the bar's count column
    assert "sending: 2 of 2 rows" not in run.err  # no plain lines on a terminal
