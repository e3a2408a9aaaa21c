"""The bulk engine's speed goals, measured against a local fake gateway in its own process.

    .venv/bin/python benchmarks/run.py            # full run, about 2.5 minutes on 2 cores
    .venv/bin/python benchmarks/run.py --quick    # smoke run, under a minute

Each goal is a ratio of two measurements taken in the same run, the median over several
repetitions; the client's CPU is ``time.process_time()`` of this process (the gateway runs in
another). The harness reports; it exits 0 whether goals pass or miss, non-zero only on a crash.
See ``benchmarks/README.md`` for what each row measures and why.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import timeit
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import anyio
import httpx
import msgspec
import xmltodict

from mysms_async import Message, MySMSClient
from mysms_async._config import make_credentials
from mysms_async._decoders import decode_batch
from mysms_async._request import RequestBuilder, WireMessage

sys.path.insert(0, str(Path(__file__).resolve().parent))  # siblings, when run as a script
import fake_server

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "latest.json"
USERNAME, PASSWORD, SENDER = "bench", "bench-password", "MySMS"
DESTINATION = "79112223333"
LATENCY = 0.05
LATENCY_IN_FLIGHT = (1, 4, 16, 32)


@dataclass(frozen=True)
class Profile:
    """How much work each measurement does; ``--quick`` trades stability for time."""

    repeats: int
    batch100_messages: int
    batch1000_messages: int
    get_messages: int
    latency_rounds: int
    memory_messages: int
    memory_warmup: int


FULL = Profile(5, 40_000, 200_000, 2_000, 20, 1_000_000, 20_000)
QUICK = Profile(3, 6_000, 20_000, 400, 6, 200_000, 20_000)


# ---------------------------------------------------------------------------------------------
# The fake gateway, in its own process


@dataclass(frozen=True)
class Gateway:
    port: int
    pid: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/rest/sms/"

    def cpu_seconds(self) -> float:
        """User + system CPU the gateway process has used so far (from /proc)."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def gateway(latency: float) -> Iterator[Gateway]:
    command = [sys.executable, str(HERE / "fake_server.py"), "--latency", str(latency)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"fake gateway did not start (said {line!r})")
        yield Gateway(int(line.split()[1]), process.pid)
    finally:
        process.terminate()
        process.wait(timeout=10)


# ---------------------------------------------------------------------------------------------
# One measurement


@dataclass(frozen=True)
class Sample:
    messages: int
    requests: int
    wall: float
    cpu: float
    server_cpu: float
    gc_seconds: float
    failed: int = 0
    first_failure: str = ""

    @property
    def rate(self) -> float:
        return self.messages / self.wall

    @property
    def cpu_us_per_message(self) -> float:
        return self.cpu / self.messages * 1e6

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu / self.requests * 1e6

    @property
    def server_share(self) -> float:
        return self.server_cpu / self.wall

    @property
    def gc_us_per_message(self) -> float:
        return self.gc_seconds / self.messages * 1e6


class GCClock:
    """CPU time spent in the cyclic garbage collector, from ``gc.callbacks``."""

    def __init__(self) -> None:
        self.total = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.total += time.process_time() - self._started

    def __enter__(self) -> GCClock:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        gc.callbacks.remove(self)


@dataclass(frozen=True)
class Case:
    """One configuration.

    ``inputs`` builds the messages (outside the timed region, and afresh for each sample, so that
    no case's inputs sit in the heap while another is measured: the garbage collector's full
    passes would walk them), ``send`` does the whole job once, ``ok`` checks one outcome after.
    """

    name: str
    messages: int
    batch: int
    server: Gateway
    inputs: Callable[[], list[Any]]
    send: Callable[[list[Any]], Awaitable[Sequence[Any]]]
    ok: Callable[[Any], bool]


async def measure(case: Case) -> Sample:
    inputs = case.inputs()
    gc.collect()
    server_before = case.server.cpu_seconds()
    with GCClock() as collector:
        cpu_before, wall_before = time.process_time(), time.perf_counter()
        results = await case.send(inputs)
        wall, cpu = time.perf_counter() - wall_before, time.process_time() - cpu_before
    server_cpu = case.server.cpu_seconds() - server_before
    if len(results) != case.messages:
        raise RuntimeError(f"{case.name}: {len(results)} results for {case.messages} messages")
    failed = [r for r in results if not case.ok(r)]
    first = repr(getattr(failed[0], "error", failed[0]))[:300] if failed else ""
    requests = -(-case.messages // case.batch)
    return Sample(
        case.messages, requests, wall, cpu, server_cpu, collector.total, len(failed), first
    )


# ---------------------------------------------------------------------------------------------
# The two senders: the client, and raw httpx + msgspec by hand


def make_client(
    server: Gateway,
    *,
    batch: int = 100,
    in_flight: int = 4,
    wire_format: Literal["json", "xml"] = "json",
    http_method: Literal["POST", "GET"] = "POST",
) -> MySMSClient:
    """The client as a user builds it."""
    return MySMSClient(
        USERNAME,
        PASSWORD,
        sender=SENDER,
        base_url=server.base_url,
        batch_size=batch,
        max_concurrency=in_flight,
        max_retries=0,
        wire_format=wire_format,
        http_method=http_method,
    )


def client_messages(count: int) -> list[Message]:
    return [Message(DESTINATION, "Hello, world " + str(i)) for i in range(count)]


def client_case(name: str, client: MySMSClient, server: Gateway, count: int) -> Case:
    settings = client._settings
    batch = 1 if settings.http_method == "GET" else settings.batch_size

    def inputs() -> list[Any]:
        return client_messages(count)

    async def send(messages: list[Any]) -> Sequence[Any]:
        return await client.send_many(messages)

    return Case(name, count, batch, server, inputs, send, lambda r: r.ok)


class RawMessage(msgspec.Struct, frozen=True):
    source: str
    destination: str
    text: str


class RawEntry(msgspec.Struct, frozen=True):
    id: str
    state: int

    @property
    def ok(self) -> bool:
        return self.state >= 0 and bool(self.id)


class RawAnswer(msgspec.Struct, frozen=True):
    state: int
    data: list[RawEntry]


_raw_encoder = msgspec.json.Encoder()
_raw_decoder = msgspec.json.Decoder(RawAnswer, strict=False)
_RAW_AUTH = {"username": USERNAME, "password": PASSWORD}
_RAW_HEADERS = {"content-type": "application/json; charset=utf-8"}


class RawSender:
    """What a careful hand-written loop does: msgspec bodies, httpx posts, N in flight."""

    def __init__(self, http: httpx.AsyncClient, url: str, batch: int, in_flight: int) -> None:
        self._http = http
        self._url = url
        self._batch = batch
        self._in_flight = in_flight

    async def send(self, messages: list[RawMessage]) -> list[RawEntry]:
        size = self._batch
        batches = [messages[i : i + size] for i in range(0, len(messages), size)]
        answers: list[list[RawEntry]] = [[] for _ in batches]
        slots = anyio.Semaphore(self._in_flight)

        async def post(index: int, batch: list[RawMessage]) -> None:
            try:
                answers[index] = await self._post(batch)
            finally:
                slots.release()

        async with anyio.create_task_group() as group:
            for index, batch in enumerate(batches):
                await slots.acquire()
                group.start_soon(post, index, batch)
        return [entry for answer in answers for entry in answer]

    async def _post(self, batch: list[RawMessage]) -> list[RawEntry]:
        body = _raw_encoder.encode({"auth": _RAW_AUTH, "data": batch})
        response = await self._http.post(self._url, content=body, headers=_RAW_HEADERS)
        response.raise_for_status()
        answer = _raw_decoder.decode(response.content)
        if answer.state != 0 or len(answer.data) != len(batch):
            raise RuntimeError(f"unexpected answer: state {answer.state}")
        return answer.data


def raw_http_client(in_flight: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    return httpx.AsyncClient(limits=limits, timeout=10.0)


def raw_case(name: str, sender: RawSender, server: Gateway, count: int, batch: int) -> Case:
    def inputs() -> list[Any]:
        return [RawMessage(SENDER, DESTINATION, "Hello, world " + str(i)) for i in range(count)]

    return Case(name, count, batch, server, inputs, sender.send, lambda e: e.ok)


# ---------------------------------------------------------------------------------------------
# The cases, run in rounds


async def build_cases(
    stack: contextlib.AsyncExitStack, fast: Gateway, slow: Gateway, profile: Profile
) -> list[Case]:
    """Every configuration the goals compare; clients stay open (and warm)
    across repetitions."""

    async def client(name: str, server: Gateway, count: int, **options: Any) -> Case:
        opened = await stack.enter_async_context(make_client(server, **options))
        return client_case(name, opened, server, count)

    n100, n1000 = profile.batch100_messages, profile.batch1000_messages
    raw = await stack.enter_async_context(raw_http_client(4))
    url = fast.base_url + "send/json"
    cases = [
        await client("client b100 x4", fast, n100),
        raw_case("raw b100 x4", RawSender(raw, url, 100, 4), fast, n100, 100),
        await client("client b1000 x4", fast, n1000, batch=1000),
        raw_case("raw b1000 x4", RawSender(raw, url, 1000, 4), fast, n1000, 1000),
        await client("client GET x4", fast, profile.get_messages, http_method="GET"),
        await client("client xml b100 x4", fast, n100, wire_format="xml"),
        await client("client b100 x16", fast, n100, in_flight=16),
    ]
    for n in LATENCY_IN_FLIGHT:
        count = 100 * n * profile.latency_rounds
        cases.append(await client(f"client b100 x{n} @50ms", slow, count, in_flight=n))
    return cases


async def warm_up(cases: Sequence[Case]) -> None:
    """One unmeasured pass: connections open, code paths and caches warm."""
    for case in cases:
        await case.send(case.inputs())


async def run_rounds(cases: Sequence[Case], repeats: int) -> dict[str, list[Sample]]:
    samples: dict[str, list[Sample]] = {case.name: [] for case in cases}
    for repeat in range(repeats):
        print(f"  repetition {repeat + 1}/{repeats}", file=sys.stderr, flush=True)
        # Alternate the order, so that a drift in the machine's speed does not favour one side.
        for case in cases if repeat % 2 == 0 else reversed(cases):
            samples[case.name].append(await measure(case))
    return samples


async def measure_throughput(
    fast: Gateway, slow: Gateway, profile: Profile
) -> dict[str, list[Sample]]:
    async with contextlib.AsyncExitStack() as stack:
        cases = await build_cases(stack, fast, slow, profile)
        await warm_up(cases)
        return await run_rounds(cases, profile.repeats)


# ---------------------------------------------------------------------------------------------
# Memory (fresh processes) and the XML micro-measurements


def measure_memory(fast: Gateway, profile: Profile) -> list[dict[str, float]]:
    runs = []
    for _ in range(profile.repeats):
        command = [
            sys.executable,
            str(HERE / "memory_probe.py"),
            "--port",
            str(fast.port),
            "--messages",
            str(profile.memory_messages),
            "--warmup",
            str(profile.memory_warmup),
        ]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        runs.append(json.loads(output))
    return runs


def best_per_call(function: Callable[[], object]) -> float:
    """Seconds per call: the best of five timings, each long enough to be steady."""
    timer = timeit.Timer(function)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=5, number=number)) / number


def _wires(count: int) -> list[WireMessage]:
    return [
        WireMessage(source=SENDER, destination=DESTINATION, text="Hello, world " + str(i))
        for i in range(count)
    ]


def _unparse_input(wires: Sequence[WireMessage]) -> dict[str, Any]:
    messages = [msgspec.to_builtins(wire) for wire in wires]
    auth = {"username": USERNAME, "password": PASSWORD}
    return {"sendSMS": {"auth": auth, "data": {"message": messages}}}


def measure_xml_micro(entries: int = 100) -> dict[str, float]:
    """Microseconds per entry (per message) for the XML pieces and their JSON counterparts."""
    xml_answer = fake_server.batch_xml(b"sendSMS", entries)
    json_answer = fake_server.batch_json(entries)
    credentials = make_credentials(USERNAME, PASSWORD)
    xml_builder = RequestBuilder(credentials, "xml", "POST")
    json_builder = RequestBuilder(credentials, "json", "POST")
    wires = _wires(entries)
    document = _unparse_input(wires)
    timings = {
        "xmltodict.parse": lambda: xmltodict.parse(
            xml_answer, force_list=("message",), disable_entities=True
        ),
        "client decode_batch xml": lambda: decode_batch(xml_answer, "xml"),
        "client decode_batch json (msgspec)": lambda: decode_batch(json_answer, "json"),
        "xmltodict.unparse": lambda: xmltodict.unparse(document).encode(),
        "client builder xml": lambda: xml_builder.send(wires),
        "client builder json": lambda: json_builder.send(wires),
    }
    return {name: best_per_call(f) / entries * 1e6 for name, f in timings.items()}


# ---------------------------------------------------------------------------------------------
# Goals


@dataclass(frozen=True)
class Goal:
    number: int
    label: str
    goal: str
    values: list[float]
    limit: float
    at_most: bool = False
    unit: str = "x"

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def passed(self) -> bool:
        return self.median <= self.limit if self.at_most else self.median >= self.limit


def _ratios(
    samples: dict[str, list[Sample]], top: str, bottom: str, metric: Callable[[Sample], float]
) -> list[float]:
    """Per-repetition ratios ``metric(top) / metric(bottom)`` (both measured back to back)."""
    pairs = zip(samples[top], samples[bottom], strict=True)
    return [metric(a) / metric(b) for a, b in pairs]


def _rate(sample: Sample) -> float:
    return sample.rate


def _cpu(sample: Sample) -> float:
    return sample.cpu_us_per_message


def _limit_text(limit: float) -> str:
    return f"{limit:.2f}" if limit < 10 else f"{limit:g}"


def at_least(number: int, label: str, limit: float, values: list[float]) -> Goal:
    return Goal(number, label, f">= {_limit_text(limit)}x", values, limit)


def at_most(number: int, label: str, limit: float, values: list[float], unit: str = "x") -> Goal:
    text = f"<= {_limit_text(limit)}{unit}"
    return Goal(number, label, text, values, limit, at_most=True, unit=unit)


def _latency_ratios(samples: dict[str, list[Sample]], name: str, in_flight: int) -> list[float]:
    """Throughput over the limit ``batch x in_flight / latency``."""
    limit = 100 * in_flight / LATENCY
    return [s.rate / limit for s in samples[name]]


def goals(samples: dict[str, list[Sample]], memory: list[dict[str, float]]) -> list[Goal]:
    def ratios(top: str, bottom: str, metric: Callable[[Sample], float]) -> list[float]:
        return _ratios(samples, top, bottom, metric)

    rows = []
    for b in (100, 1000):
        client, raw = f"client b{b} x4", f"raw b{b} x4"
        rows.append(
            at_most(1, f"CPU/msg, send_many vs raw, b{b} x4", 1.10, ratios(client, raw, _cpu))
        )
        rows.append(
            at_least(1, f"msg/s, send_many vs raw, b{b} x4", 0.90, ratios(client, raw, _rate))
        )
    rows.append(
        at_least(
            2,
            "msg/s, POST b100 vs one GET per message, x4",
            50,
            ratios("client b100 x4", "client GET x4", _rate),
        )
    )
    for n in LATENCY_IN_FLIGHT:
        values = _latency_ratios(samples, f"client b100 x{n} @50ms", n)
        rows.append(at_least(3, f"msg/s vs limit {2000 * n:,}/s, b100 x{n} @50ms", 0.90, values))
    growth = [run["growth_mb"] for run in memory]
    rows.append(at_most(4, "peak RSS growth, iter_send", 10, growth, unit=" MB"))
    rows.append(
        at_least(
            5,
            "msg/s, XML vs JSON send_many, b100 x4",
            0.50,
            ratios("client xml b100 x4", "client b100 x4", _rate),
        )
    )
    rows.append(
        at_least(
            6,
            "msg/s, 16 vs 4 in flight, b100",
            0.90,
            ratios("client b100 x16", "client b100 x4", _rate),
        )
    )
    return rows


# ---------------------------------------------------------------------------------------------
# Report


def machine() -> list[str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    packages = ("httpx", "httpcore", "h11", "anyio", "sniffio", "msgspec", "xmltodict")
    versions = ", ".join(f"{name} {_version(name)}" for name in packages)
    lines = [
        f"CPU: {cpu}, {os.cpu_count()} cores",
        f"Python {platform.python_version()} ({platform.python_implementation()}),"
        f" {platform.system()} {platform.release()}",
        f"mysms-async {_version('mysms-async')}; {versions}",
    ]
    if _version("sniffio") == "not installed":
        lines.append("WARNING: sniffio is missing: httpcore retries its import on every lock")
    return lines


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _median(samples: Sequence[Sample], metric: Callable[[Sample], float]) -> float:
    return statistics.median(metric(s) for s in samples)


def detail_table(samples: dict[str, list[Sample]]) -> list[str]:
    lines = [
        "| configuration | messages | msg/s | client CPU us/msg | of which GC"
        " | client CPU us/request | gateway CPU share |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, runs in samples.items():
        lines.append(
            f"| {name} | {runs[0].messages:,} | {_median(runs, _rate):,.0f}"
            f" | {_median(runs, _cpu):.2f}"
            f" | {_median(runs, lambda s: s.gc_us_per_message):.2f}"
            f" | {_median(runs, lambda s: s.cpu_us_per_request):,.0f}"
            f" | {_median(runs, lambda s: s.server_share):.0%} |"
        )
    return lines


def failure_lines(samples: dict[str, list[Sample]]) -> list[str]:
    """Messages that were not accepted: the fake gateway accepts all, so each is a finding."""
    return [
        f"- {name}, repetition {index + 1}: {s.failed:,} failed, first: {s.first_failure}"
        for name, runs in samples.items()
        for index, s in enumerate(runs)
        if s.failed
    ] or ["- none: every message of every sample was accepted"]


def goal_table(rows: Sequence[Goal]) -> list[str]:
    lines = ["| # | measure | goal | median | range | result |", "|---|---|---|---:|---|---|"]
    for row in rows:
        low, high = min(row.values), max(row.values)
        lines.append(
            f"| {row.number} | {row.label} | {row.goal} | {row.median:.2f}{row.unit}"
            f" | {low:.2f}-{high:.2f} | {'PASS' if row.passed else 'MISS'} |"
        )
    return lines


def micro_table(micro: dict[str, float]) -> list[str]:
    lines = ["| operation (100 entries) | us per entry | vs msgspec/JSON |", "|---|---:|---:|"]
    decode = micro["client decode_batch json (msgspec)"]
    build = micro["client builder json"]
    for name, value in micro.items():
        base = build if ("builder" in name or "unparse" in name) else decode
        lines.append(f"| {name} | {value:.3f} | {value / base:.1f}x |")
    parse = micro["xmltodict.parse"] / decode
    unparse = micro["xmltodict.unparse"] / micro["client builder xml"]
    lines.append("")
    lines.append(f"xmltodict.parse costs {parse:.0f}x msgspec's JSON decode per entry;")
    lines.append(f"xmltodict.unparse costs {unparse:.0f}x the client's XML builder per message.")
    return lines


def memory_lines(memory: Sequence[dict[str, float]]) -> list[str]:
    return [
        f"- {run['messages']:,.0f} messages in {run['seconds']:.1f} s:"
        f" peak RSS {run['peak_before_mb']:.1f} -> {run['peak_after_mb']:.1f} MB"
        f" (+{run['growth_mb']:.2f} MB)"
        for run in memory
    ]


def save(samples: dict[str, list[Sample]], memory: Any, micro: Any, rows: Sequence[Goal]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": machine(),
        "samples": {k: [asdict(s) for s in v] for k, v in samples.items()},
        "memory": memory,
        "micro_us_per_entry": micro,
        "goals": [asdict(row) | {"median": row.median, "passed": row.passed} for row in rows],
    }
    RESULTS.write_text(json.dumps(payload, indent=2))


# ---------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run (~1 minute)")
    parser.add_argument("--repeats", type=int, help="repetitions per measurement")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    profile = QUICK if args.quick else FULL
    if args.repeats:
        profile = Profile(**{**asdict(profile), "repeats": args.repeats})
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    print("\n".join(machine()))
    print(f"mode: {'quick' if args.quick else 'full'}, {profile}\n", flush=True)
    with gateway(0.0) as fast, gateway(LATENCY) as slow:
        print("throughput rounds ...", file=sys.stderr, flush=True)
        samples = anyio.run(measure_throughput, fast, slow, profile)
        print("memory probes ...", file=sys.stderr, flush=True)
        memory = measure_memory(fast, profile)
    micro = measure_xml_micro()
    rows = goals(samples, memory)
    report = [
        "Configurations (medians; 'xN' = requests in flight):",
        *detail_table(samples),
        "",
        "Goals (each a ratio measured in this run; median and range over repetitions):",
        *goal_table(rows),
        "",
        "Messages not accepted:",
        *failure_lines(samples),
        "",
        "Memory probes (fresh process each, after a warm-up):",
        *memory_lines(memory),
        "",
        "XML vs JSON pieces, informative (best of 5):",
        *micro_table(micro),
        "",
        f"Load average (1 min) {load_before:.2f} at start, {os.getloadavg()[0]:.2f} at end:"
        " other processes on this machine share its cores and skew wall-clock rows.",
        f"{sum(r.passed for r in rows)} of {len(rows)} goals met;"
        f" total time {time.perf_counter() - started:.0f} s; raw numbers in {RESULTS}",
    ]
    print("\n".join(report))
    save(samples, memory, micro, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
