"""P1d: the library's own work per message above a raw msgspec loop, without I/O.

    .venv/bin/python benchmarks/per_message.py                 # 200k messages, b100 and b1000
    .venv/bin/python benchmarks/per_message.py --messages 50000 --repeat 3 --format xml

Both sides start from inputs built before the clock starts and end holding one result per
message; neither does I/O, so what is left is exactly the per-message work each one does:

* **raw**: what a careful hand-written loop does per request: encode ``{"auth": ..., "data":
  chunk}`` of prebuilt msgspec structs with one reused encoder, decode the answer with a typed
  ``msgspec.json.Decoder(strict=False)``, keep its entries.
* **library**: what the client does per request, through its own code: a ``MySMSClient``
  whose transport is swapped for one that hands each request's prebuilt answer straight to the
  parser (no socket, no event loop: the coroutine completes on its first step). So each chunk
  goes through the bulk engine's ``prepare_chunk`` (``wire_many``, or ``to_wire`` per message)
  and ``send_chunk`` (``RequestBuilder.send``, ``decode_batch`` and the count check, one
  answered ``SendResult`` per message, merged in input order). ``--path pieces`` calls those
  pieces directly instead (validate, build, decode, results), as the client did before
  ``_operations`` existed; it is also what runs if the engine's layout is not found.

The answers are the same bytes for both sides: one per chunk, prebuilt, with a distinct id per
message. Messages are distinct too (200,000 destinations and texts), so no cache flatters
either side. The collector stays on, as users run it: ``gc.collect()`` before each sample, and
the time spent in collections during the sample is counted (``gc.callbacks``) and shown.
Samples alternate raw / library, and P1d is the median over repetitions of the difference
within one repetition (both measured back to back); "best" is the fastest library sample less
the fastest raw one, the figure least inflated by other processes on a shared machine. CPU
time is ``time.process_time()``; the load average is printed at the start and the end.

The goal (issue 10's P1d, kept by issue 19): library minus raw <= 0.5 us per message, 200k
messages, GC on. Below the table, the library's own cost is split into its pieces, each run
alone over all the chunks (validation, encoding, decoding, result objects; for JSON, where the
package writes a plain chunk's data array while validating it, "validate" includes that and
"encode" is the body around it), and what is left of
the library's median once they are taken out: the per-request glue (the chunk, the coroutines,
the lifecycle check, the count check, the merge). ``benchmarks/instructions.py`` counts the
same two loops in instructions (callgrind), which the load does not move.
A benchmark, not a test: it prints a table and exits 0 whether the goal is met or not.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import inspect
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import msgspec

import mysms_async
from mysms_async import Message, _decoders, _operations
from mysms_async import _models as models
from mysms_async._codes import message_state
from mysms_async._config import Credentials
from mysms_async._decoders import decode_batch
from mysms_async._request import RequestBuilder, to_wire, wire_many

GOAL_US = 0.5
USERNAME = "bench"
PASSWORD = "bench-password"
SENDER = "MySMS"
TIMEZONE = dt.timezone(dt.timedelta(hours=3))
#: An answered result as the client makes it: the untracked subclass where it exists.
ANSWERED: Any = getattr(models, "AnsweredSendResult", models.SendResult)
#: Issue 19's pieces (a send answer's ids read once; results in C-level passes), if present.
DECODE_SEND: Any = getattr(_decoders, "decode_send", None)
#: Issue 19's second step: ``wire_many(json=True)`` writes a plain chunk's JSON data array.
WIRE_MANY_JSON = "json" in inspect.signature(wire_many).parameters
ANSWERED_RESULTS: Any = getattr(_operations, "answered_results", None)


class RawMessage(msgspec.Struct):
    source: str
    destination: str
    text: str


class RawEntry(msgspec.Struct):
    id: str
    state: int


class RawAnswer(msgspec.Struct):
    state: int
    data: list[RawEntry]


_raw_encoder = msgspec.json.Encoder()
_raw_decoder = msgspec.json.Decoder(RawAnswer, strict=False)
_RAW_AUTH = {"username": USERNAME, "password": PASSWORD}


# --- inputs -----------------------------------------------------------------------------------


def chunked(items: list[Any], size: int) -> list[list[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def answer_json(start: int, count: int) -> bytes:
    data = [
        {"id": f"{start + i:08d}-4d6f-9a4e-{start + i:012d}", "state": "2"} for i in range(count)
    ]
    return msgspec.json.encode({"state": "0", "data": data})


def answer_xml(start: int, count: int) -> bytes:
    entries = "".join(
        f"<message><id>{start + i:08d}-4d6f-9a4e-{start + i:012d}</id><state>2</state></message>"
        for i in range(count)
    )
    return f"<sendSMS><state>0</state><data>{entries}</data></sendSMS>".encode()


class Inputs:
    """Everything both sides need, built once, before any clock runs."""

    def __init__(self, count: int, batch: int, wire_format: str) -> None:
        destinations = [f"7911{i:07d}" for i in range(count)]
        texts = [f"Hello, world {i}" for i in range(count)]
        self.count = count
        self.messages = chunked(
            [Message(d, t) for d, t in zip(destinations, texts, strict=True)], batch
        )
        raw = [RawMessage(SENDER, d, t) for d, t in zip(destinations, texts, strict=True)]
        self.raw = chunked(raw, batch)
        make_answer = answer_json if wire_format == "json" else answer_xml
        self.answers = [make_answer(n * batch, len(c)) for n, c in enumerate(self.messages)]
        self.json_answers = [answer_json(n * batch, len(c)) for n, c in enumerate(self.messages)]
        self.wire_format = wire_format
        self.builder = RequestBuilder(Credentials(USERNAME, PASSWORD), wire_format, "POST")  # type: ignore[arg-type]


# --- the two loops ----------------------------------------------------------------------------


def raw_loop(inputs: Inputs) -> list[Any]:
    results: list[Any] = []
    extend = results.extend
    for chunk, answer in zip(inputs.raw, inputs.json_answers, strict=True):
        _raw_encoder.encode({"auth": _RAW_AUTH, "data": chunk})
        extend(_raw_decoder.decode(answer).data)
    return results


def validate(inputs: Inputs, chunk: list[Message]) -> Any:
    budget = inputs.builder.query_budget
    # A JSON POST chunk comes back with its data array written (``EncodedWires``), as the
    # engine asks for it, where the package can (issue 19's second step).
    options = {"json": True} if WIRE_MANY_JSON and inputs.wire_format == "json" else {}
    wires = wire_many(chunk, SENDER, TIMEZONE, query_budget=budget, **options)
    if wires is None:  # never for these inputs; the engine's fallback, for completeness
        wires = [to_wire(m, SENDER, TIMEZONE, query_budget=budget) for m in chunk]
    return wires


class NoIOTransport:
    """Stands in for ``_transport.Transport``: the request's answer, parsed, at once."""

    def __init__(self) -> None:
        self.answers: Any = iter(())

    async def execute(
        self, prepared: Any, parse: Callable[[bytes], Any], *, messages: Any = ()
    ) -> Any:
        return parse(next(self.answers))


def engine_loop_for(inputs: Inputs, batch: int) -> Callable[[Inputs], list[Any]] | None:
    """The client's own per-chunk path with a no-I/O transport, or None if not found."""
    client = mysms_async.MySMSClient(
        USERNAME, PASSWORD, sender=SENDER, batch_size=batch, wire_format=inputs.wire_format
    )
    ops = getattr(client, "_ops", None)
    if not (hasattr(ops, "prepare_chunk") and hasattr(ops, "send_chunk")):
        return None
    transport = NoIOTransport()
    ops.transport = transport
    prepare_chunk, send_chunk = ops.prepare_chunk, ops.send_chunk

    def engine_loop(inputs: Inputs) -> list[Any]:
        transport.answers = iter(inputs.answers)
        results: list[Any] = []
        extend = results.extend
        for chunk in inputs.messages:
            step = send_chunk(prepare_chunk(chunk))
            try:
                step.send(None)
            except StopIteration as done:
                sent, error = done.value
                assert error is None, error
                extend(sent)
            else:  # pragma: no cover - the transport above never suspends
                raise RuntimeError("the no-I/O path suspended")
        return results

    engine_loop(inputs)  # one checked pass: every message answered, none failed
    return engine_loop


def library_loop(inputs: Inputs) -> list[Any]:
    results: list[Any] = []
    append = results.append
    builder = inputs.builder
    wire_format = inputs.wire_format
    for chunk, answer in zip(inputs.messages, inputs.answers, strict=True):
        wires = validate(inputs, chunk)
        builder.send(wires)
        batch = decode_batch(answer, wire_format)  # type: ignore[arg-type]
        for message, entry in zip(chunk, batch.data or (), strict=True):
            append(ANSWERED(message, entry.id or None, message_state(entry.state)))
    return results


# --- measuring --------------------------------------------------------------------------------


class GcClock:
    """CPU seconds spent inside the cyclic collector while installed."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = 0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.seconds += time.process_time() - self._started
            self.collections += 1


def sample(loop: Callable[[Inputs], list[Any]], inputs: Inputs) -> tuple[float, float, int]:
    """(us per message, of which GC us per message, full collections) for one run."""
    gc.collect()
    clock = GcClock()
    gc.callbacks.append(clock)
    try:
        started = time.process_time()
        results = loop(inputs)
        elapsed = time.process_time() - started
    finally:
        gc.callbacks.remove(clock)
    assert len(results) == inputs.count
    del results
    scale = 1e6 / inputs.count
    return elapsed * scale, clock.seconds * scale, clock.collections


def stages(inputs: Inputs) -> dict[str, float]:
    """us per message of each library stage alone (GC on), for the breakdown line: the
    engine's own pieces where they exist (``decode_send``, ``answered_results``)."""
    builder, wire_format = inputs.builder, inputs.wire_format
    out: dict[str, float] = {}
    gc.collect()
    started = time.process_time()
    wires = [validate(inputs, chunk) for chunk in inputs.messages]
    out["validate"] = time.process_time() - started
    started = time.process_time()
    for chunk_wires in wires:
        builder.send(chunk_wires)
    out["encode"] = time.process_time() - started
    if DECODE_SEND is not None and ANSWERED_RESULTS is not None:
        started = time.process_time()
        answers = [DECODE_SEND(a, wire_format) for a in inputs.answers]
        out["decode"] = time.process_time() - started
        started = time.process_time()
        results = [
            result
            for chunk, answer in zip(inputs.messages, answers, strict=True)
            for result in ANSWERED_RESULTS(chunk, answer.data, answer.ids, *answer[3:])
        ]
    else:  # before issue 19: decode_batch, then one result per entry
        started = time.process_time()
        batches = [decode_batch(a, wire_format) for a in inputs.answers]  # type: ignore[arg-type]
        out["decode"] = time.process_time() - started
        started = time.process_time()
        results = [
            ANSWERED(message, entry.id or None, message_state(entry.state))
            for chunk, batch in zip(inputs.messages, batches, strict=True)
            for message, entry in zip(chunk, batch.data or (), strict=True)
        ]
    out["results"] = time.process_time() - started
    assert len(results) == inputs.count
    return {name: seconds * 1e6 / inputs.count for name, seconds in out.items()}


def measure(count: int, batch: int, repeat: int, wire_format: str, path: str) -> dict[str, Any]:
    inputs = Inputs(count, batch, wire_format)
    library = engine_loop_for(inputs, batch) if path == "engine" else None
    used = "engine" if library is not None else "pieces"
    library = library or library_loop
    raw_loop(inputs), library(inputs)  # warm: first-call costs, caches, allocator
    raws: list[tuple[float, float, int]] = []
    libs: list[tuple[float, float, int]] = []
    for rep in range(repeat):
        order = [(raw_loop, raws), (library, libs)]
        for loop, into in order if rep % 2 == 0 else order[::-1]:
            into.append(sample(loop, inputs))
    deltas = [lib[0] - raw[0] for raw, lib in zip(raws, libs, strict=True)]
    return {
        "path": used,
        "batch": batch,
        "raw": statistics.median(r[0] for r in raws),
        "library": statistics.median(r[0] for r in libs),
        "delta": statistics.median(deltas),
        "delta_range": (min(deltas), max(deltas)),
        # Best of each side: on a loaded machine the least disturbed sample is the closest to
        # the work itself (other processes only ever add time).
        "best_delta": min(r[0] for r in libs) - min(r[0] for r in raws),
        "ratio": statistics.median(lib[0] / raw[0] for raw, lib in zip(raws, libs, strict=True)),
        "raw_gc": statistics.median(r[1] for r in raws),
        "library_gc": statistics.median(r[1] for r in libs),
        "library_collections": statistics.median(r[2] for r in libs),
        "stages": stages(inputs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--batch", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--format", choices=["json", "xml"], default="json")
    parser.add_argument("--path", choices=["engine", "pieces"], default="engine")
    args = parser.parse_args()

    print(
        f"P1d per message, no I/O, {args.messages:,} distinct messages, GC on,"
        f" {args.format.upper()} answers for the library (raw: JSON), median of {args.repeat}"
    )
    print(
        f"python {platform.python_version()}, msgspec {msgspec.__version__},"
        f" mysms-async {mysms_async.__version__}, {os.cpu_count()} CPUs,"
        f" load {os.getloadavg()[0]:.2f}"
    )
    print()
    header = (
        f"{'batch':>6} {'raw us':>8} {'lib us':>8} {'P1d us':>8} {'range':>13} {'best':>6}"
        f" {'ratio':>6} {'GC raw':>7} {'GC lib':>7}  verdict (on the median)"
    )
    print(header)
    print("-" * len(header))

    async def in_a_loop() -> list[dict[str, Any]]:
        # Inside a running event loop, as the client always is: its lifecycle check asks which
        # loop it runs in, a question that costs an exception when there is none.
        return [
            measure(args.messages, batch, args.repeat, args.format, args.path)
            for batch in args.batch
        ]

    rows = asyncio.run(in_a_loop())
    for row in rows:
        low, high = row["delta_range"]
        verdict = "PASS" if row["delta"] <= GOAL_US else "MISS"
        print(
            f"{row['batch']:>6} {row['raw']:>8.3f} {row['library']:>8.3f} {row['delta']:>8.3f}"
            f" {low:>6.3f}-{high:<6.3f} {row['best_delta']:>6.3f} {row['ratio']:>5.2f}x"
            f" {row['raw_gc']:>7.3f}"
            f" {row['library_gc']:>7.3f}  {verdict} (goal <= {GOAL_US} us; {row['path']} path)"
        )
    print()
    print("the library's cost split, us per message (each piece alone, GC on, one pass each;")
    print("per request: the library's median less the pieces, i.e. the per-chunk glue):")
    for row in rows:
        split = dict(row["stages"])
        split["per request"] = row["library"] - sum(split.values())
        parts = "  ".join(f"{name} {us:.3f}" for name, us in split.items())
        print(f"  b{row['batch']}: {parts}")
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}", file=sys.stderr)


if __name__ == "__main__":
    main()
