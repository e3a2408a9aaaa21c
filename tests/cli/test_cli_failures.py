"""The command's failure modes, as a real process against the emulator on a real port.

Each test counts what the emulator charged against what the results file holds, and they must
agree: every charged message is in the file as ``accepted`` (with its id) or ``unknown``, and
nothing is ``accepted`` that was not charged. The ways a run can end badly are the ones users
hit: stdout closed by its reader (``| head -1``), stdout on a full disk (``> /dev/full``),
SIGTERM (``docker stop``), Ctrl-C, and Ctrl-C while ``send --wait`` waits. Requests are kept in
flight with the emulator's latency fault, so the signal lands while the gateway is working.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pytest
from cli_helpers import assert_record_of_truth, campaign, results

from mysms_async.testing import DEMO_PASSWORD, DEMO_USERNAME, FakeGateway, Latency

_DEADLINE = 30.0  # a watchdog for a hung child, never reached by a passing test


@pytest.fixture
def gateway(served: tuple[FakeGateway, str]) -> tuple[FakeGateway, dict[str, str]]:
    """The session's emulator (tests/conftest.py), reset, and the environment that points the
    command at it.

    No ``PYTHONUNBUFFERED``: stdout is block-buffered as it is for users, so a full disk is
    found when the buffer is flushed, not at the first write.
    """
    fake, base_url = served
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MYSMS_", "PYTHON"))}
    env.update(
        MYSMS_USERNAME=DEMO_USERNAME,
        MYSMS_PASSWORD=DEMO_PASSWORD,
        MYSMS_SENDER="MySMS",
        MYSMS_BASE_URL=base_url,
        COLUMNS="160",
    )
    return fake, env


def _spawn(env: dict[str, str], *argv: str | Path, stdout: int | IO[Any]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mysms_async", *map(str, argv)],
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait_until(condition: Callable[[], bool], process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + _DEADLINE
    while not condition():
        assert process.poll() is None, "the command ended before the test could signal it"
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.01)


def _finish(process: subprocess.Popen[str]) -> tuple[str, str]:
    try:
        out, err = process.communicate(timeout=_DEADLINE)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"the command hung; stderr: {err}")
    return out or "", err


def _errors(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("mysms: error:")]


def _no_traceback(err: str) -> None:
    assert "Traceback" not in err and "Exception ignored" not in err, err


# --- stdout that fails: the results file is the record of truth ----------------------------------


@pytest.mark.parametrize("read_lines", [1, 3])
def test_json_bulk_whose_reader_closes_the_pipe(
    gateway: tuple[FakeGateway, dict[str, str]], tmp_path: Path, read_lines: int
) -> None:
    """``mysms --json bulk big.csv --results out.csv | head -1`` (and a reader that stops at 3)."""
    fake, env = gateway
    fake.inject(Latency(0.02), endpoint="send", times=None)
    source = campaign(tmp_path / "big.csv", 120)
    out = tmp_path / "out.csv"
    options = ("--json", "--batch-size", "5", "--concurrency", "2")
    process = _spawn(env, *options, "bulk", source, "--results", out, stdout=subprocess.PIPE)
    assert process.stdout is not None
    for _ in range(read_lines):
        json.loads(process.stdout.readline())
    process.stdout.close()
    _, err = _finish(process)
    assert process.returncode == 1, err
    _no_traceback(err)
    (error,) = _errors(err)
    assert "stdout" in error and str(out) in error
    rows = results(out)
    assert len(rows) == 120  # every row, although stdout went away after a few
    assert_record_of_truth(fake, rows, exact=True)
    assert len(fake.messages) == 120


@pytest.mark.parametrize("json_mode", [True, False], ids=["json", "human"])
def test_bulk_to_a_full_disk(
    gateway: tuple[FakeGateway, dict[str, str]], tmp_path: Path, json_mode: bool
) -> None:
    fake, env = gateway
    source = campaign(tmp_path / "c.csv", 40)
    out = tmp_path / "out.csv"
    options = ("--json",) if json_mode else ()
    with open("/dev/full", "w") as full:
        process = _spawn(
            env, *options, "--batch-size", "5", "bulk", source, "--results", out, stdout=full
        )
        _, err = _finish(process)
    assert process.returncode == 1, err
    _no_traceback(err)
    (error,) = _errors(err)
    assert "stdout" in error and "No space left on device" in error
    rows = results(out)
    assert len(rows) == 40
    assert_record_of_truth(fake, rows, exact=True)


@pytest.mark.parametrize("json_mode", [True, False], ids=["json", "human"])
def test_send_to_a_full_disk_names_the_id_on_stderr(
    gateway: tuple[FakeGateway, dict[str, str]], json_mode: bool
) -> None:
    fake, env = gateway
    options = ("--json",) if json_mode else ()
    with open("/dev/full", "w") as full:
        process = _spawn(env, *options, "send", "79112223333", "Hello", stdout=full)
        _, err = _finish(process)
    assert process.returncode == 1, err
    _no_traceback(err)
    (message_id,) = fake.messages
    (error,) = _errors(err)
    assert "stdout" in error
    assert message_id in err  # the only record of the message left is stderr: it has the id


# --- signals: stop reading, finish what is in flight, account for it, summarise ------------------


@pytest.mark.parametrize(
    ("signum", "code", "stopped"),
    [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")],
    ids=["SIGTERM", "SIGINT"],
)
def test_signal_during_bulk_finishes_the_requests_in_flight(
    gateway: tuple[FakeGateway, dict[str, str]],
    tmp_path: Path,
    signum: signal.Signals,
    code: int,
    stopped: str,
) -> None:
    fake, env = gateway
    fake.inject(Latency(0.4), endpoint="send", times=None)
    source = campaign(tmp_path / "c.csv", 200)
    out = tmp_path / "out.csv"
    options = ("--json", "--batch-size", "5", "--concurrency", "2")
    process = _spawn(env, *options, "bulk", source, "--results", out, stdout=subprocess.PIPE)
    _wait_until(lambda: len(fake.messages) >= 15, process)  # the second wave is at the gateway
    process.send_signal(signum)
    stdout, err = _finish(process)
    assert process.returncode == code, err
    _no_traceback(err)
    documents = [json.loads(line) for line in stdout.splitlines()]
    closing = [d for d in documents if d.get("type") != "row"]
    assert len(closing) == 1, closing  # one closing document: the summary
    summary = closing[0]
    assert summary["type"] == "summary" and summary["stopped"] == stopped
    rows = results(out)
    assert 15 <= len(rows) < 200  # stopped reading
    assert summary["rows"] == len(rows) == len(documents) - 1
    assert_record_of_truth(fake, rows, exact=True)  # the wave in flight finished and was kept
    assert summary["accepted"] == len(fake.messages)


def test_a_second_signal_abandons_the_requests_in_flight_as_unknown(
    gateway: tuple[FakeGateway, dict[str, str]], tmp_path: Path
) -> None:
    fake, env = gateway
    fake.inject(Latency(0.2), endpoint="send", times=2)
    fake.inject(Latency(20), endpoint="send", times=None)  # the next wave never comes back
    source = campaign(tmp_path / "c.csv", 100)
    out = tmp_path / "out.csv"
    options = ("--batch-size", "5", "--concurrency", "2")
    process = _spawn(env, *options, "bulk", source, "--results", out, stdout=subprocess.PIPE)
    _wait_until(lambda: len(fake.messages) >= 20, process)
    process.send_signal(signal.SIGTERM)
    # The second signal only once the first was handled: the command says so on stderr.
    assert process.stderr is not None
    early = ""
    while "stopping" not in early:
        line = process.stderr.readline()  # the grace timer ends the command: never blocks for ever
        assert line, f"the command ended before it reported the first signal: {early}"
        early += line
    process.send_signal(signal.SIGTERM)
    stdout, err = _finish(process)
    err = early + err
    assert process.returncode == 143, err
    _no_traceback(err)
    rows = results(out)
    outcomes = [row["outcome"] for row in rows]
    assert outcomes == ["accepted"] * 10 + ["unknown"] * 10
    assert_record_of_truth(fake, rows)
    assert "bulk send" in stdout and "may have been sent" in stdout  # the summary


# --- send --wait: an accepted message's id survives the interruption ----------------------------


@pytest.mark.parametrize("json_mode", [True, False], ids=["json", "human"])
def test_ctrl_c_during_send_wait_still_prints_the_id(
    gateway: tuple[FakeGateway, dict[str, str]], json_mode: bool
) -> None:
    fake, env = gateway
    options = ("--json",) if json_mode else ()
    argv = ("send", "79112223333", "Hello", "--wait", "--interval", "0.05")
    process = _spawn(env, *options, *argv, stdout=subprocess.PIPE)
    _wait_until(lambda: any(r.endpoint == "status" for r in fake.requests), process)
    process.send_signal(signal.SIGINT)
    stdout, err = _finish(process)
    assert process.returncode == 130, err
    _no_traceback(err)
    (message_id,) = fake.messages
    if json_mode:
        document = json.loads(stdout)  # exactly one document
        assert document["id"] == message_id and document["accepted"] is True
        assert document["interrupted"] is True
        # the signal may come before the first status answer: then there is no delivery yet
        assert document["delivery"] is None or document["delivery"]["state"] == 2
    else:
        assert message_id in stdout
        assert "interrupted" in stdout + err


def test_ctrl_c_while_the_send_is_in_flight_is_unknown_not_lost(
    gateway: tuple[FakeGateway, dict[str, str]],
) -> None:
    fake, env = gateway
    fake.inject(Latency(20), endpoint="send")
    process = _spawn(env, "--json", "send", "79112223333", "Hello", stdout=subprocess.PIPE)
    _wait_until(lambda: len(fake.messages) == 1, process)
    process.send_signal(signal.SIGINT)  # the first lets the request in flight finish ...
    assert process.stderr is not None
    first = process.stderr.readline()
    assert "SIGINT: stopping" in first, first
    process.send_signal(signal.SIGINT)  # ... a second cuts it short
    stdout, err = _finish(process)
    err = first + err
    assert process.returncode == 130, err
    _no_traceback(err)
    document = json.loads(stdout)
    assert document["accepted"] is None and document["interrupted"] is True
    assert "may have been sent" in document["error"]["message"]
    # the library's own warning, named like every line the command writes
    assert all(line.startswith("mysms: ") for line in err.splitlines()), err
    assert "mysms: warning: send of 1 message(s) cancelled while in flight" in err


def test_a_results_file_that_cannot_be_written_leaves_its_rows_on_stderr(
    gateway: tuple[FakeGateway, dict[str, str]], tmp_path: Path
) -> None:
    """The record itself on a full disk: the rows it may lack are the last lines of stderr."""
    fake, env = gateway
    source = campaign(tmp_path / "c.csv", 30)
    argv = ("--batch-size", "5", "bulk", source, "--results", "/dev/full", "--overwrite")
    process = _spawn(env, *argv, stdout=subprocess.PIPE)
    _, err = _finish(process)
    assert process.returncode == 1, err
    _no_traceback(err)
    assert "cannot write the results to /dev/full (No space left on device)" in err
    unrecorded = [
        line.removeprefix("mysms: unrecorded: ")
        for line in err.splitlines()
        if line.startswith("mysms: unrecorded: ")
    ]
    rows = list(csv.DictReader(unrecorded))
    # the failure stops the reading (it may come at the first flush, a second in): every row
    # read before it is on stderr, and nothing after it was sent
    assert [row["line"] for row in rows] == [str(n) for n in range(2, 2 + len(rows))]
    assert rows and len(fake.messages) == len(rows) <= 30
    assert_record_of_truth(fake, rows, exact=True)
