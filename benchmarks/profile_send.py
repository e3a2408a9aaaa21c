"""Where the client's CPU goes above the raw loop: cProfile of both, grouped by package.

    .venv/bin/python benchmarks/profile_send.py --backend aiohttp --batch 100 --in-flight 4
    .venv/bin/python benchmarks/profile_send.py --backend httpx --batch 1000
    .venv/bin/python benchmarks/profile_send.py --backend aiohttp --target send   # 1 in flight
    .venv/bin/python benchmarks/profile_send.py --backend aiohttp --target stream_send \\
        --in-flight 16 --latency 0.05

It starts the fake gateway, warms up, then for the client's ``--target`` (``send_many``,
``stream_send``, ``iter_send`` or ``send``, one at a time) and for the raw loop of ``run.py`` on
the same backend (msgspec + httpx, or msgspec + aiohttp workers; one request at a time for
``send``): measures the CPU per request without a profiler (best of ``--rounds``), then profiles
one round and prints the self time per group (each ``mysms_async`` module on its own line;
httpx, httpcore, h11, aiohttp, anyio, asyncio, socket calls, msgspec...) in microseconds per
request for both, and the difference, then the client's top functions with calls per request.

cProfile slows pure-Python code more than C code, so the profiled microseconds are larger than
the unprofiled ones printed above them: read them as where to look and in what proportion.
The per-message pieces without I/O (validation, building, results) are ``per_message.py``'s job.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import pstats
import re
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # siblings, when run as a script
from features import check_backend
from run import (
    DESTINATION,
    SENDER,
    Gateway,
    RawAiohttpSender,
    RawHttpxSender,
    RawMessage,
    client_messages,
    collect_iter,
    collect_stream,
    gateway,
    make_client,
    raw_aiohttp_session,
    raw_httpx_client,
    raw_messages,
)

_SITE = re.compile(r"site-packages/([A-Za-z0-9_]+)/")
_STDLIB = re.compile(r"python3\.\d+/([A-Za-z0-9_]+)")
_OWN = re.compile(r"mysms_async/(.+)\.py$")
_C_PACKAGES = ("aiohttp", "multidict", "yarl", "msgspec", "propcache", "frozenlist")


def group_of(filename: str, function: str) -> str:
    """A readable bucket for one profiled function."""
    if own := _OWN.search(filename):
        return f"mysms_async/{own.group(1)}"
    if site := _SITE.search(filename):
        return site.group(1)
    if filename == "~":  # a builtin: name it by what it is a method of
        if "socket" in function or "epoll" in function or "select" in function:
            return "socket/select syscalls"
        for package in _C_PACKAGES:
            if package in function:
                return f"{package} (C)"
        if "re.Pattern" in function:
            return "re (C)"
        return "builtins"
    if std := _STDLIB.search(filename):
        return f"stdlib {std.group(1)}"
    return "other"


def grouped(stats: pstats.Stats) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    raw = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, function), (_cc, _nc, self_time, _cum, _callers) in raw.items():
        totals[group_of(filename, function)] += self_time
    return dict(totals)


Job = tuple[Callable[[], list[Any]], Callable[[list[Any]], Awaitable[Sequence[Any]]]]


async def _cpu_per_request(job: Job, requests: int, rounds: int) -> float:
    """Best of ``rounds``; inputs are built (and the heap collected) outside the timed span."""
    make_inputs, run = job
    best = float("inf")
    for _ in range(rounds):
        inputs = make_inputs()
        gc.collect()
        before = time.process_time()
        await run(inputs)
        best = min(best, time.process_time() - before)
    return best / requests * 1e6


async def _profiled(job: Job) -> pstats.Stats:
    make_inputs, run = job
    inputs = make_inputs()
    gc.collect()
    profiler = cProfile.Profile()
    profiler.enable()
    await run(inputs)
    profiler.disable()
    return pstats.Stats(profiler)


async def compare(args: argparse.Namespace, server: Gateway) -> None:
    single = args.target == "send"
    batch = 1 if single else args.batch
    count = args.messages if not single else min(args.messages, 3000)
    requests = -(-count // batch)
    async with contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(
            make_client(server, backend=args.backend, batch=batch, in_flight=args.in_flight)
        )
        url = server.send_url
        if args.backend == "aiohttp":
            session = await stack.enter_async_context(raw_aiohttp_session(args.in_flight))
            raw_sender: RawAiohttpSender | RawHttpxSender = RawAiohttpSender(
                session, url, batch, args.in_flight
            )
        else:
            http = await stack.enter_async_context(raw_httpx_client(args.in_flight))
            raw_sender = RawHttpxSender(http, url, batch, args.in_flight)

        def client_inputs() -> list[Any]:
            if single:
                return ["Your code " + str(100_000 + i) for i in range(count)]
            return client_messages(count)

        async def client_run(inputs: list[Any]) -> Sequence[Any]:
            if single:
                return [await client.send(DESTINATION, text) for text in inputs]
            if args.target == "stream_send":
                return await collect_stream(client, inputs)
            if args.target == "iter_send":
                return await collect_iter(client, inputs)
            return await client.send_many(inputs)

        def raw_inputs() -> list[Any]:
            if single:
                texts = ("Your code " + str(100_000 + i) for i in range(count))
                return [RawMessage(SENDER, DESTINATION, text) for text in texts]
            return raw_messages(count)

        async def raw_run(inputs: list[Any]) -> Sequence[Any]:
            if single:
                assert isinstance(raw_sender, RawAiohttpSender), "raw single is aiohttp only"
                return [(await raw_sender.post((m,)))[0] for m in inputs]
            return await raw_sender.send(inputs)

        await client_run(client_inputs())
        check_backend(client, args.backend)  # no "aiohttp" profile of an httpx client
        await raw_run(raw_inputs())
        jobs = {"client": (client_inputs, client_run), "raw": (raw_inputs, raw_run)}
        cpu = {
            name: await _cpu_per_request(job, requests, args.rounds) for name, job in jobs.items()
        }
        stats = {name: await _profiled(job) for name, job in jobs.items()}
    report(args, count, requests, cpu, stats)


def report(
    args: argparse.Namespace,
    count: int,
    requests: int,
    cpu: dict[str, float],
    stats: dict[str, pstats.Stats],
) -> None:
    per_message = requests / count
    print(
        f"{args.target} on {args.backend}, {count:,} messages, {requests:,} requests,"
        f" {args.in_flight} in flight, latency {args.latency} s"
    )
    for name, micros in cpu.items():
        print(
            f"  unprofiled CPU, {name}: {micros:8.1f} us/request"
            f"  {micros * per_message:6.2f} us/msg"
        )
    print(f"  ratio client/raw: {cpu['client'] / cpu['raw']:.2f}x\n")
    client, raw = grouped(stats["client"]), grouped(stats["raw"])
    names = sorted(set(client) | set(raw), key=lambda n: -(client.get(n, 0) - raw.get(n, 0)))
    total_client, total_raw = sum(client.values()), sum(raw.values())
    print("profiled self time, us per request (cProfile inflates pure Python):")
    print(f"  {'client':>8} {'raw':>8} {'extra':>8}  group")
    print(
        f"  {total_client / requests * 1e6:8.1f} {total_raw / requests * 1e6:8.1f}"
        f" {(total_client - total_raw) / requests * 1e6:8.1f}  TOTAL"
    )
    for name in names:
        c, r = client.get(name, 0.0), raw.get(name, 0.0)
        if max(c, r) / max(total_client, 1e-9) < 0.004:
            continue
        print(
            f"  {c / requests * 1e6:8.1f} {r / requests * 1e6:8.1f}"
            f" {(c - r) / requests * 1e6:8.1f}  {name}"
        )
    print(f"\nclient: top {args.top} functions by self time (calls per request in brackets):")
    rows = stats["client"].stats  # type: ignore[attr-defined]
    ranked = sorted(rows.items(), key=lambda item: -item[1][2])[: args.top]
    for (filename, line, function), (_cc, calls, self_time, cumulative, _callers) in ranked:
        where = _OWN.search(filename) or _SITE.search(filename) or _STDLIB.search(filename)
        place = where.group(0) if where else filename
        print(
            f"  {self_time / requests * 1e6:7.1f} us  cum {cumulative / requests * 1e6:7.1f}"
            f"  [{calls / requests:5.1f}]  {function}  {place}:{line}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("httpx", "aiohttp"), default="aiohttp")
    parser.add_argument(
        "--target", choices=("send_many", "stream_send", "iter_send", "send"), default="send_many"
    )
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--in-flight", type=int, default=4)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--rounds", type=int, default=3, help="unprofiled rounds (best is kept)")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    with gateway(args.latency) as server:
        asyncio.run(compare(args, server))


if __name__ == "__main__":
    main()
