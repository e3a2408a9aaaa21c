"""A throwaway PostgreSQL 15 cluster and small servers for the campaign tests (used by conftest.py
and by the fault, secrets and rate tests; a module of its own, since ``conftest`` is a name every
test folder has)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from mysms_async.testing import FakeGateway

_SKIPPED: list[str] = []


def _server_binaries() -> Path | None:
    override = os.environ.get("MYSMS_PG_BIN")
    candidates = [override] if override else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    return None


#: Clusters listen below the kernel's ephemeral range (32768-60999 on Linux), which ``bind(0)`` and
#: every outgoing connection draw from: a port found free there is not handed to anyone else a
#: moment later. Each pytest-xdist worker searches from its own block, so parallel workers (and a
#: second test run on the same machine, caught by the retry in ``Cluster``) do not collide.
_PORT_BASE = 20_000
_PORT_BLOCK = 250
_ports_tried: set[int] = set()


def _worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")  # "gw3" under xdist
    return int(worker[2:]) if worker[2:].isdigit() else 0


def _free_port() -> int:
    """A loopback port no one listens on, from this worker's block, not tried before here."""
    start = _PORT_BASE + (_worker_index() % 40) * _PORT_BLOCK
    for port in range(start, start + _PORT_BLOCK):
        if port in _ports_tried:
            continue
        _ports_tried.add(port)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {start}-{start + _PORT_BLOCK - 1} for a test cluster")


def _port_taken(log: str) -> bool:
    try:
        with open(log, encoding="utf-8", errors="replace") as stream:
            return "could not bind" in stream.read()
    except OSError:
        return False


class Cluster:
    """A throwaway cluster: ``url`` is its ``postgres`` database (user ``mysms``, trust auth)."""

    def __init__(self, binaries: Path, *, max_connections: int, small: bool = False) -> None:
        self.binaries = binaries
        self.root = tempfile.mkdtemp(prefix="mysms-pg-")
        as_root = os.geteuid() == 0
        self._prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
        if as_root:
            shutil.chown(self.root, "postgres")
            os.chmod(self.root, 0o700)
        self.data = os.path.join(self.root, "data")
        extra = " -c shared_buffers=16MB -c max_wal_senders=0 -c wal_level=minimal" if small else ""
        try:
            self._run(
                "initdb", "-D", self.data, "-U", "mysms", "--auth=trust", "-E", "UTF8", "--no-sync"
            )
            for attempt in range(5):  # another test run may take the same port at the same moment
                self.port = _free_port()
                self._options = (
                    f"-p {self.port} -h 127.0.0.1 -k {self.root} -F"
                    f" -c max_connections={max_connections}{extra}"
                )
                self.url = f"postgresql://mysms@127.0.0.1:{self.port}/postgres"
                try:
                    self.start()
                    break
                except subprocess.CalledProcessError:
                    if attempt == 4 or not _port_taken(os.path.join(self.root, "log")):
                        raise
        except subprocess.CalledProcessError as error:
            shutil.rmtree(self.root, ignore_errors=True)
            raise RuntimeError(
                f"could not start the throwaway PostgreSQL: {error.stderr.decode(errors='replace')}"
            ) from None

    def _run(self, tool: str, *argv: str) -> None:
        command = [*self._prefix, str(self.binaries / tool), *argv]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        log = os.path.join(self.root, "log")
        self._run(
            "pg_ctl", "-D", self.data, "-o", self._options, "-l", log, "-w", "-t", "60", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def restart(self, mode: str) -> None:
        """``pg_ctl restart -m MODE``: every connection is cut, the server comes back."""
        log = os.path.join(self.root, "log")
        self._run(
            "pg_ctl", "-D", self.data, "-o", self._options, "-l", log, "-m", mode, "-w", "restart"
        )

    def database(self) -> str:
        """A new, empty database in this cluster."""
        return _new_database(self.url)

    def remove(self) -> None:
        subprocess.run(
            [
                *self._prefix,
                str(self.binaries / "pg_ctl"),
                "-D",
                self.data,
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(self.root, ignore_errors=True)


class ArrivalClock:
    """ASGI middleware: the arrival time of every request to a send endpoint."""

    def __init__(self, app: FakeGateway) -> None:
        self.app = app
        self.arrivals: list[float] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and "/send/" in scope["path"]:
            self.arrivals.append(time.monotonic())
        await self.app(scope, receive, send)


@contextmanager
def serve_asgi(app: Any) -> Iterator[str]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/rest/sms/"
    finally:
        server.should_exit = True
        thread.join(10)


def _binaries_or_skip() -> Path:
    binaries = _server_binaries()
    if binaries is None:
        reason = "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb)"
        _SKIPPED.append(reason)
        pytest.skip(reason)
    return binaries


def _new_database(server: str) -> str:
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name}")
    return server.rsplit("/", 1)[0] + f"/{name}"
