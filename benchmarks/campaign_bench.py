"""The campaign journal's speed goals (issue 11, C1-C4), against the benchmarks' fake gateway.

    .venv/bin/python benchmarks/campaign_bench.py            # 100k-message runs, a 1M-row CSV
    .venv/bin/python benchmarks/campaign_bench.py --quick    # 20k messages, a 200k-row CSV

C1  campaign run on SQLite vs plain ``send_many``, batch 100, 4 in flight, gateway answers at once
C2  4 worker processes vs 1 on PostgreSQL, gateway at 50 ms (each worker 1 request in flight);
    messages/s from the journal's own send times, so process start-up is not counted
C3  create: rows journaled per second from a CSV file, SQLite
C4  SQLite journal bytes per message (after a checkpoint), once created and once sent

PostgreSQL: ``--postgres URL``, else a throwaway cluster from /usr/lib/postgresql/*/bin (as the
``postgres`` user when run as root), else C2 reads "skipped". Ratios come from the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import glob
import os
import shutil
import socket
import sqlite3
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


def sqlite_bytes(path: Path) -> int:
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


# --- C1 and C4 -----------------------------------------------------------------------------------


async def c1_c4(count: int, workdir: Path) -> dict[str, float]:
    results: dict[str, float] = {}
    with fake_gateway(0.0) as base_url:
        async with client(base_url, batch=100, in_flight=4) as plain:
            await plain.send_many([Message("79000000000", "warm")] * 400)
            messages = [Message(r["destination"], r["text"]) for r in rows(count)]
            started = time.perf_counter()
            await plain.send_many(messages)
            results["plain msgs/s"] = count / (time.perf_counter() - started)
            del messages
        path = workdir / "c1.db"
        with Journal(f"sqlite:///{path}") as journal:
            campaign = await journal.create("c1", rows(count))
            results["C4 bytes/msg created"] = sqlite_bytes(path) / count
            async with client(base_url, batch=100, in_flight=4) as worker:
                started = time.perf_counter()
                await campaign.run(worker, batch_size=100, lanes=4)
                results["campaign msgs/s"] = count / (time.perf_counter() - started)
            assert campaign.report().counts["accepted"] == count
        results["C4 bytes/msg sent"] = sqlite_bytes(path) / count
    results["C1 ratio"] = results["campaign msgs/s"] / results["plain msgs/s"]
    return results


# --- C2 ------------------------------------------------------------------------------------------


def worker_main(journal: str, name: str, base_url: str) -> None:
    async def run() -> None:
        with Journal(journal) as j:
            async with client(base_url, batch=100, in_flight=1) as c:
                await j.campaign(name).run(c, batch_size=100, lanes=1)

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


def c2(count: int, url: str) -> dict[str, float]:
    results: dict[str, float] = {}
    with fake_gateway(0.05) as base_url:
        for workers in (1, 4):
            name = f"c2-{workers}-{uuid.uuid4().hex[:6]}"
            with Journal(url) as journal:
                asyncio.run(journal.create(name, rows(count)))
            command = [sys.executable, __file__, "--worker", url, name, base_url]
            procs = [subprocess.Popen(command) for _ in range(workers)]
            for proc in procs:
                assert proc.wait() == 0
            results[f"{workers} worker msgs/s"] = _pace(url, name)
    results["C2 ratio"] = results["4 worker msgs/s"] / results["1 worker msgs/s"]
    return results


@contextmanager
def throwaway_postgres() -> Iterator[str | None]:
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
    try:
        yield f"postgresql://bench@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, str(bin_dir / "pg_ctl"), "-D", data, "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


# --- C3 ------------------------------------------------------------------------------------------


def c3(count: int, workdir: Path) -> dict[str, float]:
    source = workdir / "rows.csv"
    with open(source, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["destination", "text"])
        for row in rows(count):
            writer.writerow([row["destination"], row["text"]])
    path = workdir / "c3.db"
    with Journal(f"sqlite:///{path}") as journal:
        started = time.perf_counter()
        campaign = asyncio.run(journal.create("c3", str(source)))
        elapsed = time.perf_counter() - started
        assert campaign.loaded["added"] == count
        started = time.perf_counter()
        again = asyncio.run(journal.create("c3", str(source)))
        elapsed_again = time.perf_counter() - started
        assert again.loaded["skipped"] == count
    return {"C3 rows/s": count / elapsed, "C3 rows/s, same file again": count / elapsed_again}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--postgres", metavar="URL")
    parser.add_argument("--worker", nargs=3, metavar=("JOURNAL", "NAME", "BASE_URL"))
    args = parser.parse_args()
    if args.worker:
        worker_main(*args.worker)
        return
    sends, csv_rows, c2_count = (
        (20_000, 200_000, 10_000) if args.quick else (100_000, 1_000_000, 20_000)
    )
    print(f"load average at start: {os.getloadavg()}  cpus: {os.cpu_count()}")
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        results.update(asyncio.run(c1_c4(sends, workdir)))
        results.update(c3(csv_rows, workdir))
    if args.postgres:
        results.update(c2(c2_count, args.postgres))
    else:
        with throwaway_postgres() as url:
            if url is None:
                print("C2 skipped: no PostgreSQL server binaries")
            else:
                results.update(c2(c2_count, url))
    for name, value in results.items():
        print(f"{name:<32}{value:>14.2f}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
