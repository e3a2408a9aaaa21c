"""Where the client's CPU goes above the raw loop, sampled by py-spy (no profiler distortion).

    .venv/bin/pip install py-spy          # not a project dependency
    .venv/bin/python benchmarks/spy_send.py --backend aiohttp --batch 100 --in-flight 4
    .venv/bin/python benchmarks/spy_send.py --backend httpx --batch 1000
    .venv/bin/python benchmarks/spy_send.py --backend aiohttp --target send

cProfile (``profile_send.py``) charges every Python call a fixed toll, which inflates exactly the
per-message functions this is meant to weigh. py-spy samples the stack instead. This script
starts ``py-spy record`` on a child copy of itself that warms up, then alternates rounds of the
client's ``--target`` and of the raw loop on the same backend (``run.py``'s), timing each round's
CPU with ``process_time()``. The report splits each side's samples by where they fall (each
``mysms_async`` module, each package, the garbage collector's triggers are charged to the
allocating frame) and scales them to microseconds per request and per message with the measured
CPU, then lists the client's own functions by inclusive time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # siblings, when run as a script
from features import check_backend
from run import (
    DESTINATION,
    SENDER,
    RawAiohttpSender,
    RawHttpxSender,
    RawMessage,
    client_messages,
    collect_iter,
    collect_stream,
    gateway,
    make_client,
    pin,
    raw_aiohttp_session,
    raw_httpx_client,
    raw_messages,
)

_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
_OWN = re.compile(r"mysms_async/(.+)\.py$")
_SITE = re.compile(r"site-packages/([A-Za-z0-9_]+)/")


# ---------------------------------------------------------------------------------------------
# The workload (the child py-spy samples)


async def client_round(client: Any, target: str, inputs: list[Any]) -> Sequence[Any]:
    if target == "send":
        return [await client.send(DESTINATION, text) for text in inputs]
    if target == "stream_send":
        return await collect_stream(client, inputs)
    if target == "iter_send":
        return await collect_iter(client, inputs)
    return await client.send_many(inputs)  # type: ignore[no-any-return]


async def raw_round(sender: Any, target: str, inputs: list[Any]) -> Sequence[Any]:
    if target == "send":
        return [(await sender.post((m,)))[0] for m in inputs]
    return await sender.send(inputs)  # type: ignore[no-any-return]


async def workload(args: argparse.Namespace, side: str) -> dict[str, Any]:
    single = args.target == "send"
    batch = 1 if single else args.batch
    count = min(args.messages, 3000) if single else args.messages
    cpu = 0.0
    with gateway(args.latency) as server:
        async with contextlib.AsyncExitStack() as stack:
            client = await stack.enter_async_context(
                make_client(server, backend=args.backend, batch=batch, in_flight=args.in_flight)
            )
            if args.backend == "aiohttp" or single:
                session = await stack.enter_async_context(raw_aiohttp_session(args.in_flight))
                sender: Any = RawAiohttpSender(session, server.send_url, batch, args.in_flight)
            else:
                http = await stack.enter_async_context(raw_httpx_client(args.in_flight))
                sender = RawHttpxSender(http, server.send_url, batch, args.in_flight)

            def client_inputs() -> list[Any]:
                if single:
                    return ["Your code " + str(100_000 + i) for i in range(count)]
                return client_messages(count)

            def raw_inputs() -> list[Any]:
                if single:
                    return [RawMessage(SENDER, DESTINATION, "Your code 1")] * count
                return raw_messages(count)

            runs: dict[str, tuple[Callable[[], list[Any]], Callable[[list[Any]], Awaitable[Any]]]]
            runs = {
                "client": (client_inputs, lambda i: client_round(client, args.target, i)),
                "raw": (raw_inputs, lambda i: raw_round(sender, args.target, i)),
            }
            make_inputs, run = runs[side]
            await run(make_inputs())  # warm: connections open, caches filled
            if side == "client":
                check_backend(client, args.backend)
            print("READY", flush=True)  # the parent attaches py-spy now: warm-up unsampled
            sys.stdin.readline()
            for _ in range(args.rounds):
                inputs = make_inputs()
                gc.collect()
                before = time.process_time()
                await run(inputs)
                cpu += time.process_time() - before
    requests = -(-count // batch) * args.rounds
    return {"cpu": cpu, "requests": requests, "messages": count * args.rounds}


# ---------------------------------------------------------------------------------------------
# The report

#: Stacks that are the harness's own work (inputs built outside the timed span), not a side's.
_HARNESS = ("client_inputs", "raw_inputs", "client_messages", "raw_messages", "gc_collect")
_EXTENSION = re.compile(r"([A-Za-z0-9_]+)/[A-Za-z0-9_]+\.cpython-[^/]*\.so$")


def _python_place(frame: str) -> tuple[str, str] | None:
    """(group, function) of a Python frame; None for a native one (C functions, libraries)."""
    match = _FRAME.match(frame)
    if match is None:
        return None
    function, file = match["function"], match["file"]
    if not file.endswith(".py"):
        return None
    if own := _OWN.search(file):
        return f"mysms_async/{own[1]}", f"{function} ({own[0]})"
    if site := _SITE.search(file):
        return site[1], f"{function} ({site[1]})"
    if "benchmarks/" in file or file in ("run.py", "spy_send.py"):
        return "benchmark harness", function
    # py-spy shortens paths below sys.path entries: "asyncio/events.py", "selectors.py"
    return file.split("/", 1)[0].removesuffix(".py"), f"{function} ({file})"


def _leaf(frames: list[str]) -> tuple[str, str]:
    """Where a sample's CPU goes (the collector, a C extension, or the innermost Python frame),
    and the function there."""
    if any(frame.startswith("gc_collect_main ") for frame in frames):
        return "cyclic GC (any caller)", "gc_collect_main"
    for frame in reversed(frames):
        match = _FRAME.match(frame)
        file = match["file"] if match else ""
        if extension := _EXTENSION.search(file):
            return f"{extension[1]} (C)", frame.split(" (", 1)[0]
        place = _python_place(frame)
        if place is not None:
            return place
    return "other", frames[-1]


def analyse(folded: Path) -> dict[str, Any]:
    """Samples by the group of the leaf, and mysms_async functions inclusive."""
    side: dict[str, Any] = {
        "total": 0,
        "waiting": 0,
        "groups": Counter(),
        "functions": Counter(),
        "own": Counter(),
        "gc_in": Counter(),
    }
    for line in folded.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        frames = stack.split(";")
        if not any("_run_once " in f for f in frames):
            continue  # start-up, imports, shutdown: not the event loop's work
        if any(f.split(" ", 1)[0].rsplit(".", 1)[-1] in _HARNESS for f in frames):  # ours
            continue
        count = int(count_text)
        group, function = _leaf(frames)
        if group == "selectors":  # epoll_wait: py-spy may see a sleeping wait as busy
            side["waiting"] += count
            continue
        side["total"] += count
        side["groups"][group] += count
        side["functions"][group, function] += count
        seen = set()
        for frame in frames:
            place = _python_place(frame)
            if place is not None and place[0].startswith("mysms_async") and place[1] not in seen:
                seen.add(place[1])
                side["own"][place[1]] += count
        if group.startswith("cyclic GC"):  # which Python line allocated when it struck
            python = [p for p in map(_python_place, frames) if p is not None]
            if python:
                side["gc_in"][python[-1][1]] += count
    return side


def report(
    timings: dict[str, dict[str, Any]], sides: dict[str, dict[str, Any]], args: argparse.Namespace
) -> None:
    requests, messages = timings["client"]["requests"], timings["client"]["messages"]
    per_message = requests / messages
    print(
        f"{args.target} on {args.backend}, batch {1 if args.target == 'send' else args.batch},"
        f" {args.in_flight} in flight, latency {args.latency} s; {args.rounds} rounds each"
    )
    scale: dict[str, float] = {}
    cpu = {name: timings[name]["cpu"] for name in sides}
    for name, side in sides.items():
        us_request = cpu[name] / requests * 1e6
        scale[name] = us_request / side["total"] if side["total"] else 0.0
        print(
            f"  {name:6}: {us_request:8.1f} us CPU/request  {us_request * per_message:6.2f}"
            f" us/msg  ({side['total']:,} samples; {side['waiting']:,} in epoll, left out)"
        )
    print(f"  ratio client/raw CPU: {cpu['client'] / cpu['raw']:.2f}x\n")

    def us(name: str, group: str) -> float:
        return float(sides[name]["groups"].get(group, 0) * scale[name])

    groups = set(sides["client"]["groups"]) | set(sides["raw"]["groups"])
    print("CPU by where it is spent (innermost Python frame, C extension, or the collector),")
    print("scaled to the measured CPU; us/request, and the extra per message:")
    print(f"  {'client':>8} {'raw':>8} {'extra':>8} {'extra/msg':>9}  group")
    for group in sorted(groups, key=lambda g: -(us("client", g) - us("raw", g))):
        c, r = us("client", group), us("raw", group)
        if max(c, r) < 0.005 * cpu["client"] / requests * 1e6:
            continue
        print(f"  {c:8.1f} {r:8.1f} {c - r:8.1f} {(c - r) * per_message:9.3f}  {group}")
    extra = sorted(groups, key=lambda g: -(us("client", g) - us("raw", g)))[: args.detail]
    for group in extra:
        print(f"\n{group}: functions (self), us/request, client vs raw:")
        functions = {f for g, f in sides["client"]["functions"] if g == group} | {
            f for g, f in sides["raw"]["functions"] if g == group
        }

        def fus(name: str, function: str, group: str = group) -> float:
            return float(sides[name]["functions"].get((group, function), 0) * scale[name])

        ranked = sorted(functions, key=lambda f: -(fus("client", f) - fus("raw", f)))
        for function in ranked[:10]:
            c, r = fus("client", function), fus("raw", function)
            print(f"  {c:8.1f} {r:8.1f} {c - r:8.1f}  {function}")
    print("\nclient: mysms_async functions, inclusive, us/request [us/msg]:")
    for function, samples in sides["client"]["own"].most_common(args.top):
        micros = samples * scale["client"]
        print(f"  {micros:8.1f} [{micros * per_message:6.3f}]  {function}")
    if sides["client"]["gc_in"]:
        print("\nclient: where the collector struck (the allocating Python frame), us/request:")
        for function, samples in sides["client"]["gc_in"].most_common(8):
            print(f"  {samples * scale['client']:8.1f}  {function}")


def sample(spy: str, side: str, folded: Path, out: Path, rate: int) -> dict[str, Any]:
    """Run one side in a child; attach py-spy once it is warm; its timings."""
    child = [sys.executable, *sys.argv, "--child", side, str(out)]
    with subprocess.Popen(child, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as run:
        assert run.stdin is not None
        assert run.stdout is not None
        if run.stdout.readline().strip() != "READY":
            sys.exit(f"{side} run failed before it was warm")
        command = [spy, "record", "--native", "-r", str(rate), "-f", "raw", "-o", str(folded)]
        recorder = subprocess.Popen(
            [*command, "--pid", str(run.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        time.sleep(1.0)  # py-spy attaches
        run.stdin.write("GO\n")
        run.stdin.flush()
        if run.wait() != 0:
            sys.exit(f"{side} run failed")
        recorder.wait(timeout=60)
    return dict(json.loads(out.read_text()))


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
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rate", type=int, default=500, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--detail", type=int, default=4, help="groups to break down by function")
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="let the client and the gateway share CPUs (by default the client has CPU 0: a"
        " gateway woken on the client's core would be charged to the client's socket calls)",
    )
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:  # the sampled workload: one side, timings to a file
        if not args.no_pin:
            pin()
        side, out = args.child
        Path(out).write_text(json.dumps(asyncio.run(workload(args, side))))
        return
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        sys.exit("py-spy is not installed: .venv/bin/pip install py-spy")
    timings: dict[str, dict[str, Any]] = {}
    sides: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for side in ("client", "raw"):
            folded, out = Path(scratch) / f"{side}.txt", Path(scratch) / f"{side}.json"
            timings[side] = sample(spy, side, folded, out, args.rate)
            sides[side] = analyse(folded)
    report(timings, sides, args)


if __name__ == "__main__":
    main()
