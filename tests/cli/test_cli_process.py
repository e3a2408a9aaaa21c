"""The command as users run it: a real process, ``python -m mysms_async``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import Run, results, write

from mysms_async.testing import DEMO_PASSWORD

Mysms = Callable[..., Run]


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MYSMS_", "FORCE_COLOR"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def test_python_m_sandbox_bulk(tmp_path: Path) -> None:
    source = write(
        tmp_path / "campaign.csv",
        "destination,text\n79110000001,Hello\n12345,bad number\n79110000003,Привет\n",
    )
    done = subprocess.run(
        [sys.executable, "-m", "mysms_async", "--sandbox", "bulk", str(source)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=_environment(),
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "bulk send:" in done.stdout and "accepted" in done.stdout
    assert "sandbox" in done.stderr
    assert "line 3: invalid" in done.stderr
    assert "sending: 3 of 3 rows" in done.stderr
    rows = results(tmp_path / "campaign.results.csv")
    assert [(row["line"], row["outcome"]) for row in rows] == [
        ("2", "accepted"),
        ("3", "invalid"),
        ("4", "accepted"),
    ]
    assert DEMO_PASSWORD not in done.stdout + done.stderr


def test_emulator_serves_until_ctrl_c(mysms: Mysms, monkeypatch: pytest.MonkeyPatch) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "mysms_async", "--json", "emulator", "--port", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(),
    )
    watchdog = threading.Timer(30, process.kill)
    watchdog.start()
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        assert info["username"] == "demo" and info["password"] == DEMO_PASSWORD
        assert info["base_url"].startswith("http://127.0.0.1:")
        monkeypatch.setenv("MYSMS_USERNAME", info["username"])
        monkeypatch.setenv("MYSMS_PASSWORD", info["password"])
        run = mysms("--base-url", info["base_url"], "--json", "--method", "get", "balance")
        assert run.code == 0 and run.document == {"balance": "1000.0000"}
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err  # interrupted, like every other command
    assert "emulator stopped" in err
    assert "GET /rest/sms/credit/json?u=demo&p=***" in err  # the access log, redacted
    assert DEMO_PASSWORD not in err


@pytest.mark.parametrize(
    ("captured", "should_exit", "status"),
    [([signal.SIGINT], True, 130), ([signal.SIGTERM], True, 143), ([], True, 130), ([], False, 0)],
)
def test_the_emulator_exits_with_the_signal_uvicorn_caught(
    captured: list[int], should_exit: bool, status: int
) -> None:
    """uvicorn's re-raised SIGINT can reach asyncio.run's handler after the main task finished
    and vanish (exit 0 after Ctrl-C, seen in CI): the status comes from what uvicorn caught."""
    from types import SimpleNamespace

    from mysms_async._cli._emulator import _exit_after_serving

    server = SimpleNamespace(_captured_signals=captured, should_exit=should_exit)
    assert _exit_after_serving(server) == status
