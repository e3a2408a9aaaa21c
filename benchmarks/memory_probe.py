"""Peak-RSS growth of ``iter_send`` over a long async generator, in a fresh process.

Started by ``run.py`` (one process per sample, so the peak is this run's alone):

    python benchmarks/memory_probe.py --port N --messages 1000000 --warmup 20000

It streams ``--warmup`` messages first (imports, pools, caches and allocator arenas settle),
reads the peak resident set, streams ``--messages`` more without keeping any result, reads it
again, and prints one JSON object with both peaks and the growth (``VmHWM``, see ``_peak_mb``).
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import time
from collections.abc import AsyncIterator

import anyio

from mysms_async import Message, MySMSClient


async def _messages(count: int) -> AsyncIterator[Message]:
    for i in range(count):
        yield Message("79112223333", "Hello, world " + str(i))


async def _drain(client: MySMSClient, count: int) -> int:
    """Stream ``count`` messages; count the accepted ones, keep nothing."""
    accepted = 0
    async for result in client.iter_send(_messages(count)):
        if result.ok:
            accepted += 1
    return accepted


def _peak_mb() -> float:
    """This process image's peak resident set so far, in MB (10^6 bytes).

    ``VmHWM`` rather than ``ru_maxrss``: Linux carries ``ru_maxrss`` over ``execve`` from the
    parent (a child of a 200 MB harness starts with a 200 MB "peak"), which would hide growth.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError("no VmHWM in /proc/self/status")


def _inherited_maxrss_mb() -> float:
    """``ru_maxrss`` (KiB on Linux), reported beside VmHWM to show the inherited part."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


async def probe(port: int, messages: int, warmup: int) -> dict[str, float]:
    client = MySMSClient(
        "bench",
        "bench-password",
        sender="MySMS",
        base_url=f"http://127.0.0.1:{port}/rest/sms/",
        max_retries=0,
    )
    async with client:
        await _drain(client, warmup)
        gc.collect()
        before = _peak_mb()
        started = time.perf_counter()
        accepted = await _drain(client, messages)
        elapsed = time.perf_counter() - started
        after = _peak_mb()
    if accepted != messages:
        raise RuntimeError(f"{accepted} of {messages} messages accepted")
    return {
        "messages": messages,
        "seconds": elapsed,
        "peak_before_mb": before,
        "peak_after_mb": after,
        "growth_mb": after - before,
        "ru_maxrss_mb": _inherited_maxrss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--warmup", type=int, default=20_000)
    args = parser.parse_args()
    result = anyio.run(probe, args.port, args.messages, args.warmup)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
