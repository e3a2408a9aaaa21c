"""P1d in instructions: the library's own work per message, counted by callgrind, not timed.

    .venv/bin/python benchmarks/instructions.py                       # b100 and b1000, 20k msgs
    .venv/bin/python benchmarks/instructions.py --batch 100 --messages 10000 --format xml
    PYTHONPATH=/tmp/snap .venv/bin/python benchmarks/instructions.py  # another tree's package

A timed benchmark on a shared machine moves with the load; an instruction count does not. This
runs ``per_message.py``'s two loops (the client's own per-chunk path with a no-I/O transport, and
the raw msgspec loop) in child processes under ``valgrind --tool=callgrind`` and reports the
instructions per message of one pass of each, as the difference between a child that builds the
inputs and warms the loop and one that then runs one more pass. Instructions are not time (a
cache miss costs more than an add), but on the same machine and Python they move together, and
the count repeats to within a few instructions per message. Needs ``valgrind`` on the PATH.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def child(mode: str, count: int, batch: int, wire_format: str) -> None:
    sys.path.insert(0, str(HERE))
    import per_message as pm

    async def run() -> None:
        inputs = pm.Inputs(count, batch, wire_format)
        loop = pm.engine_loop_for(inputs, batch) or pm.library_loop  # warms the library once
        pm.raw_loop(inputs)  # and the raw loop once
        if mode == "library":
            loop(inputs)
        elif mode == "raw":
            pm.raw_loop(inputs)

    asyncio.run(run())


def instructions(mode: str, count: int, batch: int, wire_format: str) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={os.path.join(tmp, 'out')}",
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            mode,
            "--messages",
            str(count),
            "--batch",
            str(batch),
            "--format",
            wire_format,
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
    found = _COLLECTED.search(done.stderr)
    if found is None:
        raise RuntimeError("callgrind printed no total")
    return int(found[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--format", choices=["json", "xml"], default="json")
    parser.add_argument("--child", choices=["base", "library", "raw"])
    args = parser.parse_args()
    if args.child:
        child(args.child, args.messages, args.batch[0], args.format)
        return
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: nothing measured")
        return
    print(
        f"instructions per message (callgrind), {args.messages:,} messages,"
        f" {args.format.upper()} answers for the library (raw: JSON)"
    )
    print(f"{'batch':>6} {'raw':>8} {'library':>8} {'P1d':>8} {'ratio':>6}")
    for batch in args.batch:
        base = instructions("base", args.messages, batch, args.format)
        raw = (instructions("raw", args.messages, batch, args.format) - base) / args.messages
        lib = (instructions("library", args.messages, batch, args.format) - base) / args.messages
        print(f"{batch:>6} {raw:>8,.0f} {lib:>8,.0f} {lib - raw:>8,.0f} {lib / raw:>5.2f}x")


if __name__ == "__main__":
    main()
