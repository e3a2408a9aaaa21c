"""``mysms`` against a gateway on a real socket: credentials, errors, what reaches the wire."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import (
    SECRET,
    Run,
    assert_no_secret,
    assert_record_of_truth,
    campaign,
    results,
    write,
)

from mysms_async.testing import DropAfterRead, ErrorState, FakeGateway

Mysms = Callable[..., Run]
Served = tuple[FakeGateway, str]


def test_send_status_wait_balance(mysms: Mysms, served: Served) -> None:
    gateway, url = served
    sent = mysms("--base-url", url, "--json", "send", "79112223333", "Hello")
    assert sent.code == 0
    message_id = sent.document["id"]
    assert gateway.message(message_id).text == "Hello"
    assert gateway.message(message_id).source == "MySMS"  # MYSMS_SENDER

    status = mysms("--base-url", url, "--json", "status", message_id)
    assert status.code == 0
    assert status.document["results"][0]["state"] == 2

    pending = mysms("--base-url", url, "--json", "wait", message_id, "--timeout", "0.2")
    assert pending.code == 1
    assert pending.document["timed_out"] is True and pending.document["pending"] == 1

    gateway.advance(2)
    delivered = mysms("--base-url", url, "wait", message_id, "--interval", "0.05")
    assert delivered.code == 0
    assert "DELIVERED (4)" in delivered.out and "1 delivered" in delivered.out

    gateway.set_balance("demo", "12.5")
    balance = mysms("--base-url", url, "--json", "balance")
    assert balance.code == 0 and balance.document == {"balance": "12.5000"}


def test_status_ids_from_stdin(
    mysms: Mysms, served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = served
    first = mysms("--base-url", url, "--json", "send", "79112223333", "a").document["id"]
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{first}\n\nunknown-id\n"))
    run = mysms("--base-url", url, "--json", "status", "-")
    assert [r["state"] for r in run.document["results"]] == [2, -10]


def test_dry_run_sends_nothing(mysms: Mysms, served: Served, tmp_path: Path) -> None:
    gateway, url = served
    source = write(tmp_path / "c.csv", "destination,text\n79110000001,One\n79110000002,Два\n")
    run = mysms("--base-url", url, "--json", "bulk", source, "--dry-run", "--price-per-part", "2")
    assert run.code == 0
    assert gateway.requests == [] and gateway.messages == {}
    assert run.lines[-1]["cost"] == "4" and run.lines[-1]["valid"] == 2
    assert [row["outcome"] for row in results(tmp_path / "c.results.csv")] == ["valid"] * 2


def test_bulk_reaches_the_gateway_in_order(mysms: Mysms, served: Served, tmp_path: Path) -> None:
    gateway, url = served
    lines = "".join(f"7911000{n:04d},text {n}\n" for n in range(25))
    source = write(tmp_path / "c.csv", "destination,text\n" + lines)
    run = mysms("--base-url", url, "--batch-size", "4", "--concurrency", "3", "bulk", source)
    assert run.code == 0
    rows = results(tmp_path / "c.results.csv")
    assert [row["line"] for row in rows] == [str(n) for n in range(2, 27)]
    for row in rows:
        assert gateway.message(row["id"]).destination == row["destination"]
    assert len(gateway.messages) == 25


def test_lost_answers_are_unknown_not_failed(mysms: Mysms, served: Served, tmp_path: Path) -> None:
    gateway, url = served
    gateway.inject(DropAfterRead(), endpoint="send")
    source = write(tmp_path / "c.csv", "destination,text\n79110000001,One\n79110000002,Two\n")
    run = mysms("--base-url", url, "bulk", source)
    assert run.code == 1
    assert [row["outcome"] for row in results(tmp_path / "c.results.csv")] == ["unknown"] * 2
    assert len(gateway.messages) == 2  # they were sent: which is why nothing is resent
    assert "do not resend them blindly" in run.out


def test_wrong_password_exits_2_without_printing_it(
    mysms: Mysms, served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway, url = served
    monkeypatch.setenv("MYSMS_PASSWORD", SECRET)
    send = mysms("--base-url", url, "--method", "get", "send", "79112223333", "Hi")
    assert send.code == 2
    assert "refused the username or password" in send.err
    source = write(tmp_path / "c.csv", "destination,text\n79110000001,One\n79110000002,Two\n")
    bulk = mysms("--base-url", url, "--json", "bulk", source)
    assert bulk.code == 2
    assert [row["outcome"] for row in results(tmp_path / "c.results.csv")] == ["not-sent"] * 2
    assert gateway.messages == {}
    assert_no_secret(send.out, send.err, bulk.out, bulk.err)


def test_a_password_refused_mid_run_keeps_what_the_gateway_accepted(
    mysms: Mysms, served: Served, tmp_path: Path
) -> None:
    """Issue 8: one request of four answered -1, three accepted: 30 rows accepted, none of them
    written as not-sent (an operator would resend those 30 SMS)."""
    gateway, url = served
    gateway.inject(ErrorState(-1), endpoint="send")
    source = campaign(tmp_path / "c.csv", 40)
    run = mysms("--base-url", url, "--batch-size", "10", "--concurrency", "4", "bulk", source)
    assert run.code == 2
    assert "refused the username or password" in run.err
    rows = results(tmp_path / "c.results.csv")
    assert len(rows) == 40
    assert_record_of_truth(gateway, rows)
    charged = {message.destination for message in gateway.messages.values()}
    assert len(charged) == 30
    not_sent = [row for row in rows if row["outcome"] == "not-sent"]
    assert all(row["destination"] not in charged for row in not_sent)


def test_connection_refused_never_shows_the_password(
    mysms: Mysms, closed_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MYSMS_USERNAME", "alice")
    monkeypatch.setenv("MYSMS_PASSWORD", SECRET)
    base = ("--base-url", closed_url, "--retries", "0", "--method", "get")
    send = mysms(*base, "send", "79112223333", "Hi")
    assert send.code == 1
    assert "could not connect" in send.err
    json_send = mysms(*base, "--json", "send", "79112223333", "Hi")
    assert json_send.code == 1
    assert json_send.document["error"]["type"] == "TransportError"
    source = write(tmp_path / "c.csv", "destination,text\n79110000001,One\n")
    bulk = mysms(*base, "bulk", source)
    assert bulk.code == 1
    (row,) = results(tmp_path / "c.results.csv")
    assert row["outcome"] == "failed" and row["error"]
    status = mysms(*base, "--json", "status", "some-id")
    assert status.code == 1
    assert "could not connect" in status.document["results"][0]["error"]
    balance = mysms(*base, "balance")
    assert balance.code == 1
    for run in (send, json_send, bulk, status, balance):
        assert_no_secret(run.out, run.err)
    assert_no_secret((tmp_path / "c.results.csv").read_text())


def test_missing_credentials_without_a_terminal(
    mysms: Mysms, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    run = mysms("balance")
    assert run.code == 2
    assert "MYSMS_USERNAME" in run.err and "MYSMS_PASSWORD" in run.err
    source = write(tmp_path / "c.csv", "destination,text\n79110000001,One\n")
    bulk = mysms("bulk", source)
    assert bulk.code == 2
    assert not (tmp_path / "c.results.csv").exists()  # nothing started
    monkeypatch.setenv("MYSMS_USERNAME", "alice")
    half = mysms("--json", "status", "x")
    assert half.code == 2
    assert half.document["error"]["type"] == "UsageError"
    message = half.document["error"]["message"]
    assert "export MYSMS_PASSWORD=..." in message and "MYSMS_USERNAME" not in message


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_prompt_on_a_terminal(
    mysms: Mysms, served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = served
    monkeypatch.delenv("MYSMS_USERNAME")
    monkeypatch.delenv("MYSMS_PASSWORD")
    monkeypatch.setattr("sys.stdin", _Terminal("demo\n"))
    asked: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        asked.append(prompt)
        return "demo-password"

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    run = mysms("--base-url", url, "--json", "balance")
    assert run.code == 0 and run.document == {"balance": "1000.0000"}
    assert asked == ["my-sms.ru password: "]
    assert "username" in run.err
    assert_no_secret(run.out, run.err, secret="demo-password")


def test_without_rich(mysms: Mysms, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "rich", None)
    run = mysms("--sandbox", "balance")
    assert run.code == 2
    assert "pip install 'mysms-async[cli]'" in run.err
    assert mysms("--sandbox", "--json", "balance").code == 0  # --json needs no rich


def test_usage(mysms: Mysms, tmp_path: Path) -> None:
    assert mysms("--help").code == 0
    assert mysms().code == 2
    assert mysms("send", "79112223333").code == 2
    assert mysms("--sandbox", "--batch-size", "0", "balance").code == 2
    assert mysms("--sandbox", "--sender", "far-too-long-name", "balance").code == 2
    no_text = write(tmp_path / "bad.csv", "destination,message\n79110000001,Hi\n")
    run = mysms("--sandbox", "bulk", no_text)
    assert run.code == 2 and "destination and text" in run.err
    empty = mysms("--sandbox", "bulk", write(tmp_path / "empty.csv", ""))
    assert empty.code == 2 and "empty" in empty.err
    missing = mysms("--sandbox", "bulk", tmp_path / "nope.csv")
    assert missing.code == 2 and "cannot read" in missing.err
