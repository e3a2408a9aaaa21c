"""Fixtures for the ``mysms`` command's tests: a clean environment, ``main`` run in-process,
an emulator on a real loopback port, and a port where nothing listens."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import Run

from mysms_async._cli import main
from mysms_async.testing import FakeGateway


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # --sandbox keeps its state under the cache directory: each test gets its own.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for name in (
        "MYSMS_USERNAME",
        "MYSMS_PASSWORD",
        "MYSMS_SENDER",
        "MYSMS_BASE_URL",
        "MYSMS_FORMAT",
        "MYSMS_METHOD",
        "FORCE_COLOR",
        "TTY_COMPATIBLE",
        "NO_COLOR",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "160")  # rich tables: no wrapped ids


@pytest.fixture
def mysms(capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """``mysms(*argv)`` runs the command in-process and returns its code, stdout and stderr."""

    def run(*argv: str | Path) -> Run:
        capsys.readouterr()
        code = main([str(arg) for arg in argv])
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


@pytest.fixture
def served(served_demo: tuple[FakeGateway, str]) -> tuple[FakeGateway, str]:
    """The session's emulator, reset, with the demo account in the environment (both from
    tests/conftest.py: uvicorn starts once per session, not once per test)."""
    return served_demo


@pytest.fixture
def closed_url() -> str:
    """A gateway address where nothing listens: every connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/rest/sms/"
