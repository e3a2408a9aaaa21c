"""Helpers for the ``mysms`` command's tests (a module of its own: ``conftest`` is not importable
by name when several test folders have one)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import shared_helpers
from shared_helpers import spellings

from mysms_async.testing import DEMO_PASSWORD

#: A watchdog for a hung child process, never reached by a passing test.
CHILD_DEADLINE = 30.0

#: A password that appears nowhere else, so that finding it in any output is a leak.
SECRET = "Zq9-uniq&pass word%42"


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def document(self) -> Any:
        return json.loads(self.out)

    @property
    def lines(self) -> list[Any]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def results(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def assert_no_secret(*texts: str, secret: str = SECRET) -> None:
    shared_helpers.assert_no_secret(*texts, forms=spellings(secret))


def campaign(path: Path, count: int) -> Path:
    """A CSV of ``count`` rows, each to its own number, so a charged message names its row."""
    rows = "".join(f"7911{n:07d},text {n}\n" for n in range(count))
    return write(path, "destination,text\n" + rows)


def assert_record_of_truth(
    gateway: Any, rows: list[dict[str, str]], *, exact: bool = False
) -> None:
    """What the gateway charged and what the results file holds agree.

    Every charged message has its row, ``accepted`` with the charged id or ``unknown`` (the
    command could not know); no row is ``accepted`` that was not charged. ``exact``: nothing is
    left unknown, so the accepted rows are exactly the charged messages.
    """
    charged = gateway.messages
    by_destination = {row["destination"]: row for row in rows}
    assert len(by_destination) == len(rows), "a campaign() row appears twice"
    accepted = {row["id"] for row in rows if row["outcome"] == "accepted"}
    assert accepted <= charged.keys(), "a row is accepted that the gateway never charged"
    unknown_charged = 0
    for message_id, message in charged.items():
        row = by_destination.get(message.destination)
        assert row is not None, f"{message.destination} was charged but has no row"
        assert row["outcome"] in ("accepted", "unknown"), row
        if row["outcome"] == "accepted":
            assert row["id"] == message_id
        else:
            unknown_charged += 1
    assert len(charged) == len(accepted) + unknown_charged
    if exact:
        assert [row for row in rows if row["outcome"] == "unknown"] == []
        assert accepted == charged.keys()


class Child:
    """A ``mysms`` process whose stderr is read as it comes, with a watchdog."""

    def __init__(self, env: dict[str, str], *argv: str | Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mysms_async", *map(str, argv)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.err: list[str] = []
        self._watchdog = threading.Timer(CHILD_DEADLINE, self.process.kill)
        self._watchdog.start()

    def read_until(self, marker: str) -> None:
        """Read stderr until a line holds ``marker``: the command is running, its handlers in."""
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.err.append(line)
            if marker in line:
                return
        pytest.fail(f"{marker!r} never came; stderr: {''.join(self.err)}")

    def wait_until(self, condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + CHILD_DEADLINE
        while not condition():
            assert self.process.poll() is None, "the command ended before it was signalled"
            assert time.monotonic() < deadline, "the condition never came true"
            time.sleep(0.01)

    def finish(self) -> tuple[int, str, str]:
        try:
            out, rest = self.process.communicate(timeout=CHILD_DEADLINE)
        finally:
            self._watchdog.cancel()
        err = "".join(self.err) + rest
        assert "Traceback" not in err and "Exception ignored" not in err, err
        assert DEMO_PASSWORD not in out + err
        return self.process.returncode, out, err
