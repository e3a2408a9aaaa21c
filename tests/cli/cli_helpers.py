"""Helpers for the ``mysms`` command's tests (a module of its own: ``conftest`` is not importable
by name when several test folders have one)."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

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
    for text in texts:
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            assert form not in text


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
