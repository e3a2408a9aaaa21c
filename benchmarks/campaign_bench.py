"""The campaign journal's speed goals (issue 17.5: C1, C2', C3) against the fake gateway.

    .venv/bin/python benchmarks/campaign_bench.py            # 100k messages, a 1M-row CSV
    .venv/bin/python benchmarks/campaign_bench.py --quick    # 20k messages, a 200k-row CSV

C1   one SQLite worker (batch 100, 4 lanes) vs plain ``send_many`` at the same concurrency (4 in
     flight), gateway answering after 50 ms and at once
C2'  4 PostgreSQL worker processes (4 lanes each) vs ``send_many`` at 16 in flight, gateway at
     50 ms; the workers' messages/s from the journal's own send times (process start-up is not
     counted), and the CPU seconds of the workers, the journal's server and the gateway (from
     the kernel's per-process counts) to show what limits it on a small machine
C3   ``create`` from a CSV file: rows journaled per second, SQLite and PostgreSQL

PostgreSQL: ``--postgres URL``, else a throwaway cluster from /usr/lib/postgresql/*/bin (as the
``postgres`` user when run as root), else C2 reads "skipped". Ratios come from the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import glob
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mysms_async import Message, MySMSClient
from mysms_async.campaigns import Journal

HERE = Path(__file__).resolve().parent
TEXT = "Hello {}, your order has shipped. Track it at example.com/t/{}"


@contextmanager
def fake_gateway(latency: float) -> Iterator[str]:
    command = [sys.executable, str(HERE / "fake_server.py"), "--latency", str(latency)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline().split()
        yield f"http://127.0.0.1:{line[1]}/rest/sms/"
    finally:
        server.terminate()
        server.wait()


def client(base_url: str, *, batch: int, in_flight: int) -> MySMSClient:
    return MySMSClient(
        "bench",
        "bench-password",
        sender="MySMS",
        base_url=base_url,
        batch_size=batch,
        max_concurrency=in_flight,
    )


def rows(count: int) -> Iterator[dict[str, str]]:
    for i in range(count):
        yield {"destination": f"79{i:09d}", "text": TEXT.format(i, i)}


# --- C1 -------------------------------------------------------------------------------------------


async def c1(count: int, workdir: Path, latency: float) -> dict[str, float]:
    """One SQLite worker (4 lanes) vs plain ``send_many`` at the same concurrency (4 in flight)."""
    tag = f"C1@{latency * 1000:g}ms"
    with fake_gateway(latency) as base_url:
        async with client(base_url, batch=100, in_flight=4) as plain:
            await plain.send_many([Message("79000000000", "warm")] * 400)
            messages = [Message(r["destination"], r["text"]) for r in rows(count)]
            started = time.perf_counter()
            await plain.send_many(messages)
            plain_rate = count / (time.perf_counter() - started)
            del messages
        path = workdir / f"c1-{latency}.db"
        with Journal(f"sqlite:///{path}") as journal:
            campaign = await journal.create("c1", rows(count))
            async with client(base_url, batch=100, in_flight=4) as worker:
                started = time.perf_counter()
                await campaign.run(worker, batch_size=100, lanes=4)
                rate = count / (time.perf_counter() - started)
            assert campaign.report().counts["accepted"] == count
    return {
        f"{tag} send_many msgs/s": plain_rate,
        f"{tag} campaign msgs/s": rate,
        f"{tag} ratio": rate / plain_rate,
    }


# --- C2' -----------------------------------------------------------------------------------------


def worker_main(journal: str, name: str, base_url: str) -> None:
    async def run() -> None:
        with Journal(journal) as j:
            async with client(base_url, batch=100, in_flight=4) as c:
                await j.campaign(name).run(c, batch_size=100, lanes=4)

    asyncio.run(run())


def _pace(url: str, name: str) -> float:
    import psycopg

    with psycopg.connect(url) as db:
        row = db.execute(
            "SELECT count(*), max(sent_at) - min(sent_at) FROM messages m"
            " JOIN campaigns c ON c.id = m.campaign WHERE c.name = %s",
            (name,),
        ).fetchone()
    assert row is not None
    return float(row[0]) / (float(row[1]) / 1000)


def _cpu(pid: int, *, children: bool = False) -> float:
    """CPU seconds of a live process (and of its reaped children), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def _server_cpu(postmaster: int | None) -> float:
    """The PostgreSQL cluster's CPU seconds: the postmaster, its reaped backends, live ones."""
    if postmaster is None:
        return float("nan")
    total = _cpu(postmaster, children=True)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == postmaster:
                total += _cpu(int(entry.name))
    return total


def c2(count: int, url: str, postmaster: int | None) -> dict[str, float]:
    """4 PostgreSQL workers (4 lanes each) vs ``send_many`` at 16 in flight, gateway at 50 ms;
    the CPU seconds each party used, from the kernel's per-process counts."""
    results: dict[str, float] = {}
    with fake_gateway(0.05) as base_url:
        server = int(base_url.split(":")[2].split("/")[0])  # the port; the pid is found below
        gateway = _gateway_pid(server)
        own = resource.getrusage(resource.RUSAGE_SELF)
        gw0 = _cpu(gateway)

        async def plain() -> float:
            async with client(base_url, batch=100, in_flight=16) as c:
                await c.send_many([Message("79000000000", "warm")] * 1600)
                messages = [Message(r["destination"], r["text"]) for r in rows(count)]
                started = time.perf_counter()
                await c.send_many(messages)
                return count / (time.perf_counter() - started)

        results["C2' send_many x16 msgs/s"] = asyncio.run(plain())
        after = resource.getrusage(resource.RUSAGE_SELF)
        results["C2' send_many cpu s: client"] = (after.ru_utime + after.ru_stime) - (
            own.ru_utime + own.ru_stime
        )
        results["C2' send_many cpu s: gateway"] = _cpu(gateway) - gw0
        name = f"c2-{uuid.uuid4().hex[:6]}"
        with Journal(url) as journal:
            asyncio.run(journal.create(name, rows(count)))
        gw0, pg0 = _cpu(gateway), _server_cpu(postmaster)
        command = [sys.executable, __file__, "--worker", url, name, base_url]
        procs = [subprocess.Popen(command) for _ in range(4)]
        workers_cpu = 0.0
        for proc in procs:
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            assert proc.returncode == 0
            workers_cpu += usage.ru_utime + usage.ru_stime
        results["C2' 4 workers msgs/s"] = _pace(url, name)
        results["C2' workers cpu s"] = workers_cpu
        results["C2' journal (postgres) cpu s"] = _server_cpu(postmaster) - pg0
        results["C2' gateway cpu s"] = _cpu(gateway) - gw0
    results["C2' ratio"] = results["C2' 4 workers msgs/s"] / results["C2' send_many x16 msgs/s"]
    return results


def _gateway_pid(port: int) -> int:
    """The fake gateway's pid: the child of this process whose command line names the server."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if b"fake_server.py" in cmdline and int(stat[1]) == os.getpid():
            return int(entry.name)
    raise RuntimeError(f"no fake gateway process (port {port})")


@contextmanager
def throwaway_postgres() -> Iterator[tuple[str, int] | None]:
    """A throwaway cluster: its URL and its postmaster's pid (for the CPU split)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if not found:
        yield None
        return
    bin_dir = Path(found[0]).parent
    root = tempfile.mkdtemp(prefix="mysms-bench-pg-")
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if prefix:
        shutil.chown(root, "postgres")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = os.path.join(root, "data")
    subprocess.run(
        [*prefix, str(bin_dir / "initdb"), "-D", data, "-U", "bench", "--auth=trust", "--no-sync"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -h 127.0.0.1 -k {root}"
    subprocess.run(
        [
            *prefix,
            str(bin_dir / "pg_ctl"),
            "-D",
            data,
            "-o",
            options,
            "-l",
            os.path.join(root, "log"),
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    postmaster = int(Path(data, "postmaster.pid").read_text().split()[0])
    try:
        yield f"postgresql://bench@127.0.0.1:{port}/postgres", postmaster
    finally:
        subprocess.run(
            [*prefix, str(bin_dir / "pg_ctl"), "-D", data, "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


# --- C3 ------------------------------------------------------------------------------------------


def write_csv(count: int, workdir: Path) -> Path:
    source = workdir / "rows.csv"
    with open(source, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["destination", "text"])
        for row in rows(count):
            writer.writerow([row["destination"], row["text"]])
    return source


def c3(journal_url: str, source: Path, count: int, label: str) -> dict[str, float]:
    """``campaign create`` from a CSV file: rows journaled per second."""
    with Journal(journal_url) as journal:
        name = f"c3-{uuid.uuid4().hex[:6]}"
        started = time.perf_counter()
        campaign = asyncio.run(journal.create(name, str(source)))
        elapsed = time.perf_counter() - started
        assert campaign.loaded["added"] == count
    return {f"C3 {label} rows/s": count / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--postgres", metavar="URL")
    parser.add_argument("--only", default="C1,C2,C3", help="comma-separated: C1,C2,C3")
    parser.add_argument("--worker", nargs=3, metavar=("JOURNAL", "NAME", "BASE_URL"))
    args = parser.parse_args()
    if args.worker:
        worker_main(*args.worker)
        return
    only = set(args.only.upper().split(","))
    sends, csv_rows, c2_count = (
        (20_000, 200_000, 20_000) if args.quick else (100_000, 1_000_000, 100_000)
    )
    print(f"load average at start: {os.getloadavg()}  cpus: {os.cpu_count()}", flush=True)
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, _postgres(args.postgres) as pg:
        workdir = Path(tmp)
        if "C1" in only:
            for latency in (0.05, 0.0):
                results.update(asyncio.run(c1(sends, workdir, latency)))
        if "C2" in only:
            if pg is None:
                print("C2' skipped: no PostgreSQL server binaries")
            else:
                results.update(c2(c2_count, *pg))
        if "C3" in only:
            source = write_csv(csv_rows, workdir)
            results.update(c3(f"sqlite:///{workdir / 'c3.db'}", source, csv_rows, "SQLite"))
            if pg is not None:
                results.update(c3(pg[0], source, csv_rows, "PostgreSQL"))
    for name, value in results.items():
        print(f"{name:<40}{value:>14.2f}")
    print(f"load average at end: {os.getloadavg()}")


@contextmanager
def _postgres(url: str | None) -> Iterator[tuple[str, int | None] | None]:
    if url:
        yield url, None
        return
    with throwaway_postgres() as found:
        yield found


if __name__ == "__main__":
    main()
