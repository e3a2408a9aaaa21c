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
