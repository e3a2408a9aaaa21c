"""``mysms --sandbox`` remembers between runs: its messages and balance live in a file under the
user's cache directory (here a temporary ``XDG_CACHE_HOME``), ``--sandbox-reset`` forgets them and
``--sandbox-balance`` sets the balance. Two runs at once lose nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mysms_async._cli import main
from mysms_async.testing import DEMO_PASSWORD
from mysms_async.testing._sandbox import SANDBOX_BALANCE, sandbox_path


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("MYSMS_USERNAME", "MYSMS_PASSWORD", "MYSMS_BASE_URL", "MYSMS_SENDER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    capsys.readouterr()
    code = main(["--sandbox", "--json", *argv])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else None


def test_the_file_lives_under_the_cache_directory(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sandbox_path() == cache / "mysms-async" / "sandbox.jsonl"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(cache.parent / "home"))
    assert sandbox_path() == cache.parent / "home" / ".cache" / "mysms-async" / "sandbox.jsonl"


def test_a_message_sent_in_one_run_is_known_to_the_next(
    capsys: pytest.CaptureFixture[str], cache: Path
) -> None:
    code, sent = run(capsys, "send", "79112223333", "Hello")
    assert code == 0 and sent["accepted"]
    code, status = run(capsys, "status", sent["id"])
    assert code == 0
    (result,) = status["results"]
    assert result["id"] == sent["id"]
    assert result["state"] in (2, 3, 4)  # known: not -10, invalid id
    code, balance = run(capsys, "balance")
    assert Decimal(balance["balance"]) == SANDBOX_BALANCE - Decimal("1.5")
    saved = (cache / "mysms-async" / "sandbox.jsonl").read_text(encoding="utf-8")
    assert sent["id"] in saved and DEMO_PASSWORD not in saved


def test_reset_forgets_and_balance_sets(capsys: pytest.CaptureFixture[str]) -> None:
    _, sent = run(capsys, "send", "79112223333", "Hello")
    code, _ = run(capsys, "--sandbox-reset", "balance")
    assert code == 0
    _, status = run(capsys, "status", sent["id"])
    assert status["results"][0]["state"] == -10
    _, balance = run(capsys, "balance")
    assert Decimal(balance["balance"]) == SANDBOX_BALANCE

    _, balance = run(capsys, "--sandbox-balance", "250000", "balance")
    assert Decimal(balance["balance"]) == 250000
    run(capsys, "send", "79112223333", "Hello")
    _, balance = run(capsys, "balance")  # the set balance is kept, and charged
    assert Decimal(balance["balance"]) == Decimal("249998.5")


def test_sandbox_options_imply_sandbox(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["--json", "--sandbox-balance", "7", "balance"]) == 0
    assert Decimal(json.loads(capsys.readouterr().out)["balance"]) == 7


def test_a_torn_last_line_is_skipped_and_not_glued_to(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, first = run(capsys, "send", "79112223333", "Hello")
    with open(sandbox_path(), "ab") as handle:
        handle.write(b'{"m": ["torn')  # a run killed half-way through a line
    _, second = run(capsys, "send", "79112223333", "Hello")
    _, status = run(capsys, "status", first["id"], second["id"])
    assert all(r["state"] != -10 for r in status["results"])


def test_two_runs_at_once_lose_nothing(
    tmp_path: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = "destination,text\n" + "".join(f"7911000{n:04d},Hello {n}\n" for n in range(150))
    files = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.csv"
        path.write_text(rows, encoding="utf-8")
        files.append(path)
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    command = [sys.executable, "-m", "mysms_async", "--sandbox", "--json", "--batch-size", "10"]
    runs = [
        subprocess.Popen(
            [*command, "bulk", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        for path in files
    ]
    ids: list[str] = []
    for process in runs:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        lines = [json.loads(line) for line in out.splitlines() if line.strip()]
        ids += [line["id"] for line in lines if line.get("id")]
    assert len(set(ids)) == 300
    capsys.readouterr()
    assert main(["--sandbox", "--json", "status", *ids]) == 0
    states = [r["state"] for r in json.loads(capsys.readouterr().out)["results"]]
    assert len(states) == 300 and -10 not in states
    assert main(["--sandbox", "--json", "balance"]) == 0
    balance = json.loads(capsys.readouterr().out)["balance"]
    assert Decimal(balance) == SANDBOX_BALANCE - 300 * Decimal("1.5")
