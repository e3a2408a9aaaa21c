"""Peak-RSS growth of a streamed send over a long async generator, in a fresh process.

Started by ``run.py`` (one process per sample, so the peak is this run's alone):

    python benchmarks/memory_probe.py --port N --messages 1000000 --warmup 20000 --backend aiohttp

It streams with ``client.stream_send`` when the client has it, else ``iter_send`` (``--api``
forces one). It streams ``--warmup`` messages first (imports, pools, caches and allocator arenas
settle), reads the peak resident set, streams ``--messages`` more without keeping any result,
reads it again, and prints one JSON object with both peaks and the growth (``VmHWM``, see
``_peak_mb``), or ``{"missing": "<what>"}`` when the client lacks the backend or API asked for.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio

from mysms_async import Message, MySMSClient

sys.path.insert(0, str(Path(__file__).resolve().parent))  # siblings, when run as a script
from features import FeatureMissing, backend_options, check_backend


async def _messages(count: int) -> AsyncIterator[Message]:
    for i in range(count):
        yield Message("79112223333", "Hello, world " + str(i))


async def _drain(client: MySMSClient, count: int, api: str) -> int:
    """Stream ``count`` messages; count the accepted ones, keep nothing."""
    accepted = 0
    if api == "stream_send":
        async with client.stream_send(_messages(count)) as results:  # type: ignore[attr-defined]
            async for result in results:
                if result.ok:
                    accepted += 1
        return accepted
    async for result in client.iter_send(_messages(count)):
        if result.ok:
            accepted += 1
    return accepted


def _make_client(port: int, backend: str) -> MySMSClient:
    options = backend_options(backend)
    try:
        return MySMSClient(
            "bench",
            "bench-password",
            sender="MySMS",
            base_url=f"http://127.0.0.1:{port}/rest/sms/",
            max_retries=0,
            **options,
        )
    except Exception as error:
        if backend == "httpx":
            raise
        raise FeatureMissing(f"MySMSClient(backend={backend!r}): {error}") from error


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


async def probe(port: int, messages: int, warmup: int, backend: str, api: str) -> dict[str, Any]:
    if api == "auto":
        api = "stream_send" if hasattr(MySMSClient, "stream_send") else "iter_send"
    elif not hasattr(MySMSClient, api):
        raise FeatureMissing(f"client.{api}()")
    client = _make_client(port, backend)
    async with client:
        await _drain(client, warmup, api)
        check_backend(client, backend)
        gc.collect()
        before = _peak_mb()
        started = time.perf_counter()
        load = os.getloadavg()[0]
        accepted = await _drain(client, messages, api)
        elapsed = time.perf_counter() - started
        after = _peak_mb()
    if accepted != messages:
        raise RuntimeError(f"{accepted} of {messages} messages accepted")
    return {
        "backend": backend,
        "api": api,
        "load": load,
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
    parser.add_argument("--backend", choices=("httpx", "aiohttp"), default="httpx")
    parser.add_argument("--api", choices=("auto", "stream_send", "iter_send"), default="auto")
    args = parser.parse_args()
    try:
        result = anyio.run(probe, args.port, args.messages, args.warmup, args.backend, args.api)
    except FeatureMissing as missing:
        result = {"missing": str(missing)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
