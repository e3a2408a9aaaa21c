"""``mysms campaign``: reports tell the truth (issue 17, item 4) and the README's campaign quick
start runs to the end as printed."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mysms_async.testing import DEMO_PASSWORD, DEMO_USERNAME, FakeGateway

ROOT = Path(__file__).resolve().parents[2]
Mysms = Callable[..., tuple[int, str, str]]


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    served = FakeGateway()
    served.set_balance("demo", 10**6)
    with served.serve() as base_url:
        monkeypatch.setenv("MYSMS_USERNAME", DEMO_USERNAME)
        monkeypatch.setenv("MYSMS_PASSWORD", DEMO_PASSWORD)
        monkeypatch.setenv("MYSMS_SENDER", "MySMS")
        yield base_url


def test_refused_rows_name_their_state_and_have_no_sent_at(
    mysms: Mysms, gateway: str, tmp_path: Path
) -> None:
    source = tmp_path / "rows.csv"
    lines = ["destination,text,sender"] + [f"7911000{i:04d},hello {i}," for i in range(6)]
    lines += [f"7911100{i:04d},hello {i},Unknown{i}" for i in range(3)]  # not this account's
    source.write_text("\n".join(lines) + "\n")
    journal = f"sqlite:///{tmp_path / 'j.db'}"
    mysms("campaign", "create", "c", source, "--journal", journal)
    code, _, _ = mysms("campaign", "run", "c", "--journal", journal, "--base-url", gateway, "-q")
    assert code == 1
    code, out, _ = mysms("campaign", "status", "c", "--journal", journal)
    # before: "refused with state -11: 3", a bare number
    assert "refused with state -11: invalid or unregistered sender name: 3" in out
    code, out, _ = mysms("campaign", "export", "c", "--journal", journal)
    table = list(csv.DictReader(io.StringIO(out)))
    refused = [row for row in table if row["outcome"] == "refused"]
    assert len(refused) == 3
    for row in refused:
        assert row["reason"] == "-11: invalid or unregistered sender name"
        assert row["sent_at"] == ""  # before: the claim's time, as if it had been sent
    assert all(row["sent_at"] for row in table if row["outcome"] == "accepted")


def test_a_runs_last_line_gives_the_campaigns_totals(
    mysms: Mysms, gateway: str, tmp_path: Path
) -> None:
    journal = f"sqlite:///{tmp_path / 'j.db'}"
    first = tmp_path / "first.csv"
    first.write_text("destination,text\n" + "".join(f"7911000{i:04d},a {i}\n" for i in range(30)))
    mysms("campaign", "create", "c", first, "--journal", journal)
    run = ("campaign", "run", "c", "--journal", journal, "--base-url", gateway, "-q")
    assert mysms(*run)[0] == 0
    more = tmp_path / "more.csv"
    more.write_text("destination,text\n" + "".join(f"7912000{i:04d},b {i}\n" for i in range(10)))
    mysms("campaign", "create", "c", more, "--journal", journal)
    code, out, _ = mysms(*run)
    assert code == 0
    last = out.strip().splitlines()[-1]
    assert "this run: 10 settled" in last
    assert "the campaign: 40 of 40 settled (accepted 40)" in last  # before: this run's 10 only


def _quick_start() -> list[list[str]]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("SQLite quick start") :]
    block = section[section.index("```sh\n") + 6 : section.index("\n```", section.index("```sh"))]
    commands = []
    for line in block.splitlines():
        words = shlex.split(line, comments=True)
        assert words[0] == "mysms", line
        commands.append(words)
    return commands


def test_the_readme_quick_start_runs_to_the_end_as_printed(tmp_path: Path) -> None:
    """Each command of the README's block, in a fresh folder with the repository's examples;
    before, ``track --until-final`` waited for rows scheduled weeks ahead (an hour, silent)."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYSMS_")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    started = time.monotonic()
    outputs = []
    for words in _quick_start():
        done = subprocess.run(
            [sys.executable, "-m", "mysms_async", *words[1:]],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, (words, done.stderr)
        assert "Traceback" not in done.stderr
        outputs.append(done.stdout + done.stderr)
    assert time.monotonic() - started < 45
    track = next(o for w, o in zip(_quick_start(), outputs, strict=True) if "track" in w)
    assert re.search(r"\d+ of the accepted are scheduled for a later date", track)
    assert (tmp_path / "spring.csv").exists()


def test_a_campaign_created_past_the_default_parts_limit_is_sent_as_created(
    mysms: Mysms, gateway: str, tmp_path: Path
) -> None:
    """``create --max-parts 0`` (no limit) took a 12-part text into the journal: ``run`` sends it
    as created, rather than turning it invalid under the client's default ``max_parts=10``."""
    journal = f"sqlite:///{tmp_path / 'j.db'}"
    source = tmp_path / "long.csv"
    source.write_text(f"destination,text\n79110000001,{'a' * 160 * 12}\n")
    assert (
        mysms("campaign", "create", "c", source, "--journal", journal, "--max-parts", "0")[0] == 0
    )
    code, _, _ = mysms("campaign", "run", "c", "--journal", journal, "--base-url", gateway, "-q")
    assert code == 0
    code, out, _ = mysms("campaign", "status", "c", "--journal", journal, "--json")
    counts = json.loads(out)["counts"]
    assert counts["accepted"] == 1 and counts["invalid"] == 0  # before: invalid, 12 > 10 parts
