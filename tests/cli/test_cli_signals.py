"""One stop mechanism for every command: SIGINT and SIGTERM to a real ``mysms`` process.

Each command that talks to the gateway (``send --wait``, ``wait``, ``bulk``, ``campaign run``,
``campaign track``) is started against the emulator on a loopback port, signalled once it shows
it is running (a progress line on stderr, or its request at the gateway), and must end with
128 + the signal's number and its summary, never a traceback. In-process, the Python-level
handlers a host had installed for SIGINT and SIGTERM are the ones left after each command.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest
from cli_helpers import Child, campaign, results

from mysms_async._cli import main
from mysms_async._cli._signals import Stop, stop_on_signals
from mysms_async.testing import DEMO_PASSWORD, DEMO_USERNAME, FakeGateway, Latency

_SIGNALS = [(signal.SIGINT, 130), (signal.SIGTERM, 143)]
_IDS = ["SIGINT", "SIGTERM"]


@pytest.fixture
def gateway(
    served: tuple[FakeGateway, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[FakeGateway, dict[str, str]]:
    """The session's emulator (tests/conftest.py), reset; the environment for a child process
    and for ``main``."""
    fake, base_url = served
    fake.set_balance(DEMO_USERNAME, 10**6)  # reset() gives the starting balance back after
    settings = {
        "MYSMS_USERNAME": DEMO_USERNAME,
        "MYSMS_PASSWORD": DEMO_PASSWORD,
        "MYSMS_SENDER": "MySMS",
        "MYSMS_BASE_URL": base_url,
        "MYSMS_JOURNAL": f"sqlite:///{tmp_path / 'journal.db'}",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MYSMS_", "PYTHON"))}
    env.update(settings, COLUMNS="160")
    return fake, env


def _count(db: Path, outcome: int) -> int:
    with sqlite3.connect(db) as conn:
        return int(
            conn.execute("SELECT count(*) FROM messages WHERE outcome = ?", (outcome,)).fetchone()[
                0
            ]
        )


# --- one signal, each command: exit 128 + N, and its summary -------------------------------------


@pytest.mark.parametrize(("signum", "code"), _SIGNALS, ids=_IDS)
def test_send_wait(gateway: tuple[FakeGateway, dict[str, str]], signum: int, code: int) -> None:
    fake, env = gateway
    child = Child(env, "send", "79112223333", "Hello", "--wait", "--interval", "0.05")
    child.read_until("waiting:")  # the message was accepted, delivery is being polled
    child.process.send_signal(signum)
    exit_code, out, err = child.finish()
    assert exit_code == code, err
    (message_id,) = fake.messages
    assert message_id in out  # the summary: the id, whatever happened while waiting
    assert f"interrupted ({signal.Signals(signum).name}) while waiting for delivery" in err


@pytest.mark.parametrize(("signum", "code"), _SIGNALS, ids=_IDS)
def test_wait(
    gateway: tuple[FakeGateway, dict[str, str]],
    signum: int,
    code: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake, env = gateway
    assert main(["send", "79112223333", "Hello"]) == 0
    (message_id,) = fake.messages  # accepted, never delivered: the emulator has no delay set
    capsys.readouterr()
    child = Child(env, "wait", message_id, "--interval", "0.05")
    child.read_until("waiting:")
    child.process.send_signal(signum)
    exit_code, out, err = child.finish()
    assert exit_code == code, err
    assert message_id in out
    assert f"0 delivered, 0 failed or invalid, 1 pending (interrupted by {_name(signum)})" in out


@pytest.mark.parametrize(("signum", "code"), _SIGNALS, ids=_IDS)
def test_bulk(
    gateway: tuple[FakeGateway, dict[str, str]], tmp_path: Path, signum: int, code: int
) -> None:
    fake, env = gateway
    fake.inject(Latency(0.3), endpoint="send", times=None)
    source = campaign(tmp_path / "c.csv", 100)
    out_file = tmp_path / "out.csv"
    options = ("--batch-size", "5", "--concurrency", "2")
    child = Child(env, *options, "bulk", source, "--results", out_file)
    child.wait_until(lambda: len(fake.messages) >= 5)  # a wave is at the gateway
    child.process.send_signal(signum)
    exit_code, out, err = child.finish()
    assert exit_code == code, err
    assert "bulk send" in out  # the summary
    stopped = "interrupted" if signum == signal.SIGINT else "terminated"
    assert f"{stopped} ({_name(signum)})" in err
    rows = results(out_file)
    assert 5 <= len(rows) < 100
    assert {row["outcome"] for row in rows} == {"accepted"}  # the wave in flight finished


@pytest.mark.parametrize(("signum", "code"), _SIGNALS, ids=_IDS)
def test_campaign_run(
    gateway: tuple[FakeGateway, dict[str, str]], tmp_path: Path, signum: int, code: int
) -> None:
    fake, env = gateway
    fake.inject(Latency(0.3), endpoint="send", times=None)
    assert main(["-q", "campaign", "create", "c", str(campaign(tmp_path / "c.csv", 40))]) == 0
    child = Child(env, "campaign", "run", "c", "--batch-size", "5")
    child.read_until("c: sending:")  # the first batch was answered
    child.process.send_signal(signum)
    exit_code, out, err = child.finish()
    assert exit_code == code, err
    assert f"{_name(signum)}: stopping; nothing new is started" in err
    assert "campaign c: 40 messages" in out  # the summary
    assert f"stopped by {_name(signum)}" in out
    db = tmp_path / "journal.db"
    assert _count(db, 1) == 0 and _count(db, 8) == 0  # nothing left sending, nothing unknown
    assert 5 <= _count(db, 2) == len(fake.messages) < 40


@pytest.mark.parametrize(("signum", "code"), _SIGNALS, ids=_IDS)
def test_campaign_track(
    gateway: tuple[FakeGateway, dict[str, str]], tmp_path: Path, signum: int, code: int
) -> None:
    """It crashed with ``UnboundLocalError: ... 'summary'`` and exit 1 on Ctrl-C or SIGTERM."""
    _, env = gateway
    assert main(["-q", "campaign", "create", "c", str(campaign(tmp_path / "c.csv", 10))]) == 0
    assert main(["-q", "--json", "campaign", "run", "c"]) == 0  # accepted, never delivered
    child = Child(env, "campaign", "track", "c", "--until-final", "--interval", "0.1")
    child.read_until("c: tracking:")
    child.process.send_signal(signum)
    exit_code, out, err = child.finish()
    assert exit_code == code, err
    assert f"c: tracking stopped by {_name(signum)}" in err
    assert "campaign c: 10 messages" in out and "accepted" in out  # the summary


def test_campaign_run_second_signal_records_in_flight_as_unknown(
    gateway: tuple[FakeGateway, dict[str, str]], tmp_path: Path
) -> None:
    fake, env = gateway
    fake.inject(Latency(0.1), endpoint="send", times=1)
    fake.inject(Latency(20), endpoint="send", times=None)  # the next batch never comes back
    assert main(["-q", "campaign", "create", "c", str(campaign(tmp_path / "c.csv", 20))]) == 0
    child = Child(env, "campaign", "run", "c", "--batch-size", "5")
    child.read_until("c: sending:")
    child.wait_until(lambda: len(fake.messages) == 10)  # the second batch is at the gateway
    child.process.send_signal(signal.SIGINT)
    child.read_until("SIGINT: stopping")
    child.process.send_signal(signal.SIGINT)
    exit_code, out, err = child.finish()
    assert exit_code == 130, err
    db = tmp_path / "journal.db"
    assert (_count(db, 2), _count(db, 8), _count(db, 0)) == (5, 5, 10)
    assert "unknown" in out and "stopped by SIGINT" in out  # the summary, after all


# --- the handlers a host had are the handlers it keeps ------------------------------------------


def _host_handler(signum: int, frame: FrameType | None) -> None:
    raise AssertionError("the host's handler ran: no signal was sent")


@pytest.fixture
def host_handlers() -> Iterator[None]:
    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, _host_handler)
    signal.signal(signal.SIGTERM, _host_handler)
    try:
        yield
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)


def _commands(tmp_path: Path) -> list[list[str]]:
    source = str(campaign(tmp_path / "c.csv", 5))
    return [
        ["send", "79112223333", "Hello", "--wait", "--timeout", "0.2", "--interval", "0.05"],
        ["wait", "--timeout", "0.2", "--interval", "0.05", "-"],
        ["bulk", source, "--results", str(tmp_path / "r.csv")],
        ["status", "-"],
        ["balance"],
        ["campaign", "create", "c", source],
        ["campaign", "run", "c"],
        ["campaign", "track", "c"],
    ]


@pytest.mark.parametrize("host", ["python handlers", "defaults"])
def test_each_command_restores_the_previous_handlers(
    gateway: tuple[FakeGateway, dict[str, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
    host: str,
) -> None:
    """After ``campaign run`` SIGTERM was left at ``SIG_DFL`` (and SIGINT at Python's default)."""
    fake, _ = gateway
    if host == "python handlers":
        request.getfixturevalue("host_handlers")
    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    assert main(["-q", "send", "79112223333", "Hello"]) == 0
    (message_id,) = fake.messages
    for argv in _commands(tmp_path):
        monkeypatch.setattr("sys.stdin", _Lines(message_id))
        code = main(["-q", *argv])
        assert code in (0, 1), (argv, capsys.readouterr().err)
        after = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
        assert after == before, argv


class _Lines:
    """A stdin holding one id (``status -`` and ``wait -`` read it)."""

    def __init__(self, line: str) -> None:
        self._lines = [line + "\n"]

    def __iter__(self) -> Iterator[str]:
        return iter(self._lines)

    def read(self) -> str:
        return "".join(self._lines)

    def isatty(self) -> bool:
        return False


# --- the policy, in-process: a grace period, then a cancellation --------------------------------


def test_the_grace_period_ends_in_a_cancellation_and_restores_the_handlers(
    host_handlers: None,
) -> None:
    stop = Stop()
    seen: list[int] = []
    stop.on_request(seen.append)

    async def work() -> str:
        with stop_on_signals(stop, grace=0.05):
            os.kill(os.getpid(), signal.SIGTERM)
            assert stop.event is not None
            await stop.event.wait()  # the first signal only asks
            assert not stop.cancelled
            try:
                await asyncio.sleep(10)  # the grace period cuts this short
            except asyncio.CancelledError:
                return "cancelled"
            return "slept"

    assert asyncio.run(work()) == "cancelled"
    assert seen == [signal.SIGTERM] and stop.cancelled
    assert signal.getsignal(signal.SIGTERM) is _host_handler
    assert signal.getsignal(signal.SIGINT) is _host_handler


def test_a_second_signal_cancels_at_once(host_handlers: None) -> None:
    stop = Stop()

    async def work() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with stop_on_signals(stop, grace=30):
            os.kill(os.getpid(), signal.SIGINT)
            assert stop.event is not None
            await stop.event.wait()
            os.kill(os.getpid(), signal.SIGINT)
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                return loop.time() - started
        raise AssertionError("never cancelled")

    assert asyncio.run(work()) < 5
    assert stop.signum == signal.SIGINT and stop.cancelled
    assert signal.getsignal(signal.SIGINT) is _host_handler


def _name(signum: int) -> str:
    return signal.Signals(signum).name
