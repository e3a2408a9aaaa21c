"""Where the client's CPU goes in ``send_many``: per-message pieces, then cProfile by package.

    .venv/bin/python benchmarks/profile_send.py --batch 1000 --in-flight 4
    .venv/bin/python benchmarks/profile_send.py --batch 100 --in-flight 32 --latency 0.05

First it times, without I/O and with the garbage collector off, what the client does per message
(validate and chunk, build the body, decode the answer, make the results) next to what the raw
httpx + msgspec loop of ``run.py`` does (encode, decode). Then it starts the fake gateway, warms
a client up, profiles one ``send_many`` and prints the share of self time per group (each
``mysms_async`` module on its own line; httpx, httpcore, h11, anyio, asyncio, socket calls,
msgspec...) and the top functions. cProfile slows pure-Python code more than C code, so read its
shares as where to look, not as exact costs.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import re
import sys
import timeit
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import anyio

from mysms_async import MySMSClient
from mysms_async._codes import message_state
from mysms_async._decoders import decode_batch
from mysms_async._models import SendResult

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fake_server
from run import (
    _RAW_AUTH,
    DESTINATION,
    SENDER,
    RawMessage,
    _raw_decoder,
    _raw_encoder,
    client_messages,
    gateway,
    make_client,
)

_SITE = re.compile(r"site-packages/([A-Za-z0-9_]+)/")
_STDLIB = re.compile(r"python3\.\d+/([A-Za-z0-9_]+)")
_OWN = re.compile(r"mysms_async/(.+)\.py$")


def group_of(filename: str, function: str) -> str:
    """A readable bucket for one profiled function."""
    if own := _OWN.search(filename):
        return f"mysms_async/{own.group(1)}"
    if site := _SITE.search(filename):
        return site.group(1)
    if filename == "~":  # a builtin: name it by what it is a method of
        if "socket" in function or "epoll" in function or "select" in function:
            return "socket/select syscalls"
        if "msgspec" in function:
            return "msgspec (C)"
        if "re.Pattern" in function:
            return "re (C)"
        return "builtins"
    if std := _STDLIB.search(filename):
        return f"stdlib {std.group(1)}"
    return "other"


def grouped(stats: pstats.Stats) -> list[tuple[str, float]]:
    totals: dict[str, float] = defaultdict(float)
    raw = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, function), (_cc, _nc, self_time, _cum, _callers) in raw.items():
        totals[group_of(filename, function)] += self_time
    return sorted(totals.items(), key=lambda item: -item[1])


def _per_message(function: Callable[[], object], count: int) -> float:
    return min(timeit.repeat(function, number=20, repeat=7)) / 20 / count * 1e6


def pieces(count: int) -> dict[str, float]:
    """Microseconds per message of each step, for one request of ``count`` messages."""
    client = MySMSClient("bench", "bench-password", sender=SENDER, batch_size=count)
    messages = client_messages(count)
    raw = [RawMessage(SENDER, DESTINATION, "Hello, world " + str(i)) for i in range(count)]
    answer = fake_server.batch_json(count)
    entries = decode_batch(answer, "json").data or []

    async def chunk() -> list[object]:
        return [c async for c in client._bulk._chunks(messages)]

    (prepared,) = anyio.run(chunk)
    steps: dict[str, Callable[[], object]] = {
        "client: validate + chunk (_chunks/_add/to_wire)": lambda: anyio.run(chunk),
        "  of which anyio.run itself": lambda: anyio.run(anyio.sleep, 0),
        "client: build JSON body (RequestBuilder.send)": lambda: client._builder.send(
            prepared.wires  # type: ignore[attr-defined]
        ),
        "client: decode answer (decode_batch)": lambda: decode_batch(answer, "json"),
        "client: make SendResults": lambda: [
            SendResult(m, e.id or None, message_state(e.state))
            for m, e in zip(messages, entries, strict=True)
        ],
        "raw: encode body (msgspec)": lambda: _raw_encoder.encode({"auth": _RAW_AUTH, "data": raw}),
        "raw: decode answer (msgspec)": lambda: _raw_decoder.decode(answer),
    }
    gc.disable()
    try:
        return {name: _per_message(step, count) for name, step in steps.items()}
    finally:
        gc.enable()


async def profile(args: argparse.Namespace) -> pstats.Stats:
    with gateway(args.latency) as server:
        client = make_client(server, batch=args.batch, in_flight=args.in_flight)
        async with client:
            messages = client_messages(args.messages)
            await client.send_many(messages[: args.batch * args.in_flight * 4])
            profiler = cProfile.Profile()
            profiler.enable()
            await client.send_many(messages)
            profiler.disable()
    return pstats.Stats(profiler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--in-flight", type=int, default=4)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print(f"per message, one request of {args.batch} (no I/O, GC off, best of 7):")
    for name, micros in pieces(args.batch).items():
        print(f"  {micros:6.3f} us  {name}")
    print()
    stats = anyio.run(profile, args)
    groups = grouped(stats)
    total = sum(seconds for _, seconds in groups)
    print(f"self time by group ({total:.2f} s profiled, {args.messages:,} messages):")
    for name, seconds in groups:
        if seconds / total >= 0.005:
            print(f"  {seconds / total:6.1%}  {seconds / args.messages * 1e6:6.2f} us/msg  {name}")
    print()
    stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
