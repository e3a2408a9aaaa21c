"""What ``campaign run`` and ``campaign track`` show an operator while they work.

Progress on stderr (here plain lines: stderr is not a terminal) with counts by outcome, this run's
own rate and an honest ETA; ``-q`` silences it; a gateway that cannot be reached is said within
seconds, with the error.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from cli_helpers import Child, Run, campaign

from mysms_async._cli import _progress
from mysms_async._cli._output import Output
from mysms_async._cli._progress import Meter
from mysms_async.testing import DEMO_PASSWORD, DEMO_USERNAME, FakeGateway

Mysms = Callable[..., Run]


@pytest.fixture
def journal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "journal.db"
    monkeypatch.setenv("MYSMS_JOURNAL", f"sqlite:///{path}")
    return path


@pytest.fixture
def delivering(monkeypatch: pytest.MonkeyPatch, journal: Path) -> Iterator[FakeGateway]:
    """An emulator that moves each message one state on per 50 ms: tracking has work to show.

    Its own, not the session's (tests/conftest.py): the delivery delay is fixed when a
    ``FakeGateway`` is made, and the session's emulator must not move messages on by itself.
    """
    gateway = FakeGateway(delivery_delay=0.05)
    gateway.set_balance(DEMO_USERNAME, 10**6)
    with gateway.serve() as base_url:
        monkeypatch.setenv("MYSMS_USERNAME", DEMO_USERNAME)
        monkeypatch.setenv("MYSMS_PASSWORD", DEMO_PASSWORD)
        monkeypatch.setenv("MYSMS_SENDER", "MySMS")
        monkeypatch.setenv("MYSMS_BASE_URL", base_url)
        yield gateway


def test_run_shows_progress_with_counts_by_outcome_and_its_own_rate(
    mysms: Mysms, delivering: FakeGateway, tmp_path: Path
) -> None:
    assert mysms("campaign", "create", "c", campaign(tmp_path / "c.csv", 20)).code == 0
    run = mysms("campaign", "run", "c", "--batch-size", "5")
    assert run.code == 0, run.err
    progress = [line for line in run.err.splitlines() if line.startswith("mysms: c: sending:")]
    assert progress, run.err
    assert "accepted 5" in progress[0]  # counts by outcome, from the first batch on
    final = progress[-1]
    assert final.startswith("mysms: c: sending: 20 of 20 msgs, in ") and "msgs/s" in final
    assert "accepted 20" in final and "ETA" not in final
    assert "this run: 20 settled in " in run.out and "messages/s" in run.out
    assert "time left" not in run.out


def test_run_progress_in_a_log_is_not_a_line_per_batch(
    mysms: Mysms, delivering: FakeGateway, tmp_path: Path
) -> None:
    assert mysms("-q", "campaign", "create", "c", campaign(tmp_path / "c.csv", 40)).code == 0
    run = mysms("campaign", "run", "c", "--batch-size", "2")  # 20 batches
    assert run.code == 0, run.err
    progress = [line for line in run.err.splitlines() if line.startswith("mysms: c: sending:")]
    assert 2 <= len(progress) <= 4, progress  # the first batch, every 2 s, the end


def test_run_json_says_its_own_rate(mysms: Mysms, delivering: FakeGateway, tmp_path: Path) -> None:
    assert mysms("-q", "campaign", "create", "c", campaign(tmp_path / "c.csv", 10)).code == 0
    run = mysms("-q", "--json", "campaign", "run", "c", "--batch-size", "5")
    assert run.code == 0, run.err
    document = run.document
    assert document["this_run"] == {"accepted": 10} and document["stopped"] is False
    assert document["interrupted"] is None
    seconds = document["run_seconds"]
    assert seconds > 0
    # Both numbers are rounded to 3 places: the rate is 10 messages over the unrounded seconds,
    # which lie within half a millisecond of the printed ones.
    slowest, fastest = 10 / (seconds + 0.0005), 10 / max(seconds - 0.0005, 1e-9)
    assert slowest - 0.0005 <= document["run_rate"] <= fastest + 0.0005


def test_quiet_silences_create_run_and_track(
    mysms: Mysms, delivering: FakeGateway, tmp_path: Path
) -> None:
    create = mysms("-q", "campaign", "create", "c", campaign(tmp_path / "c.csv", 10))
    assert (create.code, create.err) == (0, "")
    run = mysms("-q", "campaign", "run", "c", "--batch-size", "2")
    assert (run.code, run.err) == (0, "")
    assert "campaign c: 10 messages" in run.out  # the summary stays
    track = mysms("-q", "campaign", "track", "c", "--until-final", "--interval", "0.05")
    assert track.code == 0
    assert "tracking:" not in track.err


def test_track_shows_delivery_progress(
    mysms: Mysms, delivering: FakeGateway, tmp_path: Path
) -> None:
    assert mysms("-q", "campaign", "create", "c", campaign(tmp_path / "c.csv", 10)).code == 0
    assert mysms("-q", "campaign", "run", "c").code == 0
    track = mysms("campaign", "track", "c", "--until-final", "--interval", "0.05")
    assert track.code == 0, track.err
    progress = [line for line in track.err.splitlines() if line.startswith("mysms: c: tracking:")]
    assert progress, track.err
    assert "waiting 10" in progress[0]
    assert progress[-1].startswith("mysms: c: tracking: 10 of 10 msgs final, in ")
    assert "delivered 10, undelivered 0, waiting 0" in progress[-1]


def test_an_unreachable_gateway_is_said_within_seconds(
    closed_url: str, journal: Path, tmp_path: Path, mysms: Mysms
) -> None:
    """It looped in silence: every batch came back unsent and was claimed again."""
    assert mysms("-q", "campaign", "create", "c", campaign(tmp_path / "c.csv", 4)).code == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MYSMS_", "PYTHON"))}
    env.update(
        MYSMS_USERNAME=DEMO_USERNAME,
        MYSMS_PASSWORD=DEMO_PASSWORD,
        MYSMS_JOURNAL=f"sqlite:///{journal}",
    )
    started = time.monotonic()
    child = Child(env, "campaign", "run", "c", "--base-url", closed_url)
    child.read_until("the gateway did not take a batch")
    assert time.monotonic() - started < 15
    said = child.err[-1]
    assert "TransportError: could not connect" in said, said
    child.process.send_signal(signal.SIGINT)
    code, out, err = child.finish()
    assert code == 130, err
    assert err.count("the gateway did not take a batch") == 1  # said once, not per retry
    assert "pending              4" in out and "stopped by SIGINT" in out


# --- the meter: this run's rate, an ETA from it, none once stopped -------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(_progress, "time", SimpleNamespace(monotonic=fake))
    return fake


def test_the_rate_is_this_runs_not_the_campaigns(
    clock: _Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    """90 of 100 were done before this run began; it did 5 more in 1 s: 5/s, ETA 1 s."""
    meter = Meter(
        Output(json_mode=False, quiet=False),
        label="c: sending",
        total=100,
        unit="msgs",
        rate=True,
        done_before=90,
    )
    clock.now += 1.0
    meter.set(95, "accepted 5")
    assert meter.seconds_left() == pytest.approx(1.0)
    line = capsys.readouterr().err
    assert "95 of 100 msgs (95%), 5 msgs/s, ETA 1 s, accepted 5" in line, line


def test_a_stopped_run_shows_no_eta(clock: _Clock, capsys: pytest.CaptureFixture[str]) -> None:
    meter = Meter(
        Output(json_mode=False, quiet=False), label="c", total=100, unit="msgs", rate=True
    )
    clock.now += 2.0
    meter.set(10, "accepted 10")
    assert meter.seconds_left() == pytest.approx(18.0)
    meter.finish(complete=False)
    assert meter.seconds_left() is None
    final = capsys.readouterr().err.splitlines()[-1]
    assert final == "mysms: c: 10 of 100 msgs, in 2.0 s, stopped, 5 msgs/s, accepted 10", final


def test_a_run_asked_to_stop_drops_its_eta_at_once(
    clock: _Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    meter = Meter(
        Output(json_mode=False, quiet=False), label="c", total=100, unit="msgs", rate=True
    )
    clock.now += 1.0
    meter.set(50, "accepted 50")
    assert "ETA 1 s" in capsys.readouterr().err
    meter.halt()  # the first signal: the requests in flight finish, nothing more is claimed
    assert meter.seconds_left() is None
    clock.now += 1.0
    meter.set(60, "accepted 60")
    assert "ETA" not in capsys.readouterr().err
