"""The client's speed goals (issue 19, after issue 10), measured against a local fake gateway in
its own process.

    .venv/bin/python benchmarks/run.py            # full run, about 4 minutes on 2 cores
    .venv/bin/python benchmarks/run.py --quick    # smoke run, about a minute
    .venv/bin/python benchmarks/run.py --only 'b100 x4$' --no-memory   # rerun some rows

Each goal is a ratio of two measurements taken back to back in the same run, the median over
several repetitions; the client's CPU is ``time.process_time()`` of this process (the gateway
runs in another). A row whose feature the client does not have yet (the aiohttp backend,
``stream_send``, ``benchmarks/per_message.py``) reads "n/a (feature not present)", and a case that
raises is reported, not fatal: the harness runs at every commit. It exits 0 whether goals pass
or miss, non-zero only on a crash of its own. See ``benchmarks/README.md`` for what each row
measures and why.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib.metadata
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiohttp
import anyio
import httpx
import msgspec

import mysms_async
from mysms_async import Message, MySMSClient

sys.path.insert(0, str(Path(__file__).resolve().parent))  # siblings, when run as a script
from features import FeatureMissing, backend_options, check_backend

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "latest.json"
PER_MESSAGE = HERE / "per_message.py"
USERNAME, PASSWORD, SENDER = "bench", "bench-password", "MySMS"
DESTINATION = "79112223333"
LATENCY = 0.05
LATENCY_IN_FLIGHT = (1, 4, 16, 32)
BACKENDS = ("httpx", "aiohttp")
NOT_PRESENT = "n/a (feature not present"


@dataclass(frozen=True)
class Profile:
    """How much work each measurement does; ``--quick`` trades stability for time."""

    repeats: int
    batch100_messages: int
    batch1000_messages: int
    single_sends: int
    get_messages: int
    latency_rounds: int
    memory_messages: int
    memory_warmup: int


FULL = Profile(5, 40_000, 200_000, 1_000, 1_000, 20, 1_000_000, 20_000)
QUICK = Profile(3, 6_000, 20_000, 300, 400, 6, 200_000, 20_000)


# ---------------------------------------------------------------------------------------------
# The fake gateway, in its own process


@dataclass(frozen=True)
class Gateway:
    port: int
    pid: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/rest/sms/"

    @property
    def send_url(self) -> str:
        return self.base_url + "send/json"

    def cpu_seconds(self) -> float:
        """User + system CPU the gateway process has used so far (from /proc)."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


#: With ``pin()``: the CPUs the gateway may run on (the client has the others).
GATEWAY_CPUS: set[int] = set()


def pin() -> str:
    """Client on the first CPU, gateways on the rest: a wake-up of the gateway then does not
    preempt the client on its own core (which charges the client's clock with waiting)."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return "not pinned (one CPU)"
    os.sched_setaffinity(0, {cpus[0]})
    GATEWAY_CPUS.update(cpus[1:])
    return f"client on CPU {cpus[0]}, gateways on CPU {','.join(map(str, cpus[1:]))}"


@contextlib.contextmanager
def gateway(latency: float) -> Iterator[Gateway]:
    command = [sys.executable, str(HERE / "fake_server.py"), "--latency", str(latency)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    if GATEWAY_CPUS:
        os.sched_setaffinity(process.pid, GATEWAY_CPUS)
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
    load: float
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
    def wall_us_per_request(self) -> float:
        return self.wall / self.requests * 1e6

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
    passes would walk them), ``send`` does the whole job once and returns one outcome per
    message, ``ok`` checks one outcome after.
    """

    name: str
    messages: int
    batch: int
    server: Gateway
    inputs: Callable[[], list[Any]]
    send: Callable[[list[Any]], Awaitable[Sequence[Any]]]
    ok: Callable[[Any], bool]
    check: Callable[[], None] | None = None  # after the warm-up: is the feature really there?


async def measure(case: Case) -> Sample:
    inputs = case.inputs()
    gc.collect()
    load = os.getloadavg()[0]
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
        case.messages,
        requests,
        wall,
        cpu,
        server_cpu,
        collector.total,
        load,
        len(failed),
        first,
    )


# ---------------------------------------------------------------------------------------------
# The client, as a user builds it


def make_client(
    server: Gateway,
    *,
    backend: str = "httpx",
    batch: int = 100,
    in_flight: int = 4,
    wire_format: Literal["json", "xml"] = "json",
    http_method: Literal["POST", "GET"] = "POST",
) -> MySMSClient:
    """The client as a user builds it; ``FeatureMissing`` if it cannot take ``backend``."""
    options = backend_options(backend)
    try:
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
            **options,
        )
    except Exception as error:
        if backend != "httpx":
            raise FeatureMissing(f"MySMSClient(backend={backend!r}): {error}") from error
        raise


def client_messages(count: int) -> list[Message]:
    return [Message(DESTINATION, "Hello, world " + str(i)) for i in range(count)]


def _result_ok(result: Any) -> bool:
    return bool(result.ok)


async def collect_stream(client: MySMSClient, messages: list[Message]) -> list[Any]:
    """``stream_send`` as its users write it: results read as they come, in input order."""
    stream_send = getattr(client, "stream_send", None)
    if stream_send is None:
        raise FeatureMissing("client.stream_send()")
    async with stream_send(messages) as results:
        return [result async for result in results]


async def collect_iter(client: MySMSClient, messages: list[Message]) -> list[Any]:
    return [result async for result in client.iter_send(messages)]


Api = Literal["send_many", "iter_send", "stream_send"]


def _checker(client: MySMSClient) -> Callable[[], None]:
    backend = getattr(client._settings, "backend", "httpx")
    return lambda: check_backend(client, backend)


def client_case(
    name: str, client: MySMSClient, server: Gateway, count: int, api: Api = "send_many"
) -> Case:
    settings = client._settings
    batch = 1 if settings.http_method == "GET" else settings.batch_size

    def inputs() -> list[Any]:
        return client_messages(count)

    async def send(messages: list[Any]) -> Sequence[Any]:
        if api == "stream_send":
            return await collect_stream(client, messages)
        if api == "iter_send":
            return await collect_iter(client, messages)
        return await client.send_many(messages)

    return Case(name, count, batch, server, inputs, send, _result_ok, _checker(client))


def single_send_case(name: str, client: MySMSClient, server: Gateway, count: int) -> Case:
    """One ``send`` at a time, each awaited before the next: a web handler sending one code."""

    def inputs() -> list[Any]:
        return ["Your code " + str(100_000 + i) for i in range(count)]

    async def send(texts: list[Any]) -> Sequence[Any]:
        return [await client.send(DESTINATION, text) for text in texts]

    return Case(name, count, 1, server, inputs, send, _result_ok, _checker(client))


# ---------------------------------------------------------------------------------------------
# The raw loops: what a careful user writes by hand with msgspec and httpx or aiohttp


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


def raw_body(batch: Sequence[RawMessage]) -> bytes:
    return _raw_encoder.encode({"auth": _RAW_AUTH, "data": batch})


def raw_entries(content: bytes, expected: int) -> list[RawEntry]:
    answer = _raw_decoder.decode(content)
    if answer.state != 0 or len(answer.data) != expected:
        raise RuntimeError(f"unexpected answer: state {answer.state}")
    return answer.data


def raw_messages(count: int) -> list[RawMessage]:
    return [RawMessage(SENDER, DESTINATION, "Hello, world " + str(i)) for i in range(count)]


class RawHttpxSender:
    """msgspec bodies, ``httpx.AsyncClient.post``, N in flight through a semaphore."""

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
        response = await self._http.post(self._url, content=raw_body(batch), headers=_RAW_HEADERS)
        response.raise_for_status()
        return raw_entries(response.content, len(batch))


class RawAiohttpSender:
    """The leaner baseline: msgspec bodies, one ``aiohttp.ClientSession``, a plain pool of N
    long-lived workers pulling the next batch, answers kept in input order."""

    def __init__(
        self, session: aiohttp.ClientSession, url: str, batch: int, in_flight: int
    ) -> None:
        self._session = session
        self._url = url
        self._batch = batch
        self._in_flight = in_flight

    async def send(self, messages: list[RawMessage]) -> list[RawEntry]:
        size = self._batch
        batches = [messages[i : i + size] for i in range(0, len(messages), size)]
        answers: list[list[RawEntry]] = [[] for _ in batches]
        indices = iter(range(len(batches)))

        async def worker() -> None:
            for index in indices:
                answers[index] = await self.post(batches[index])

        await asyncio.gather(*(worker() for _ in range(self._in_flight)))
        return [entry for answer in answers for entry in answer]

    async def post(self, batch: Sequence[RawMessage]) -> list[RawEntry]:
        async with self._session.post(
            self._url, data=raw_body(batch), headers=_RAW_HEADERS
        ) as response:
            response.raise_for_status()
            content = await response.read()
        return raw_entries(content, len(batch))


def raw_httpx_client(in_flight: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    return httpx.AsyncClient(limits=limits, timeout=10.0)


def raw_aiohttp_session(in_flight: int) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=in_flight)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10.0))


def raw_case(
    name: str,
    sender: RawHttpxSender | RawAiohttpSender,
    server: Gateway,
    count: int,
    batch: int,
) -> Case:
    """The raw loop over ``count`` messages (its sender already points at ``server``)."""

    def inputs() -> list[Any]:
        return raw_messages(count)

    return Case(name, count, batch, server, inputs, sender.send, lambda e: e.ok)


def oneshot_raw_case(name: str, server: Gateway, count: int, batch: int, in_flight: int) -> Case:
    """The raw aiohttp loop as a script runs it: its session opened and closed inside the
    timing (issue 19's P1a counts the one-shot costs on both sides)."""

    def inputs() -> list[Any]:
        return raw_messages(count)

    async def send(messages: list[Any]) -> Sequence[Any]:
        async with raw_aiohttp_session(in_flight) as session:
            sender = RawAiohttpSender(session, server.send_url, batch, in_flight)
            return await sender.send(messages)

    return Case(name, count, batch, server, inputs, send, lambda e: e.ok)


def oneshot_client_case(name: str, server: Gateway, count: int, **options: Any) -> Case:
    """``send_many`` as a script runs it: the client built, used once and closed inside the
    timing (construction, first connections and close are all counted)."""
    batch = options.get("batch", 100)

    def inputs() -> list[Any]:
        return client_messages(count)

    async def send(messages: list[Any]) -> Sequence[Any]:
        async with make_client(server, **options) as client:
            return await client.send_many(messages)

    return Case(name, count, batch, server, inputs, send, _result_ok)


def raw_single_case(name: str, sender: RawAiohttpSender, server: Gateway, count: int) -> Case:
    """One message per request, one request at a time, through the raw aiohttp session."""

    def inputs() -> list[Any]:
        texts = ("Your code " + str(100_000 + i) for i in range(count))
        return [RawMessage(SENDER, DESTINATION, text) for text in texts]

    async def send(messages: list[Any]) -> Sequence[Any]:
        return [(await sender.post((message,)))[0] for message in messages]

    return Case(name, count, 1, server, inputs, send, lambda e: e.ok)


# ---------------------------------------------------------------------------------------------
# The cases


@dataclass
class Plan:
    """The cases to run, and those that could not be built (name -> why)."""

    cases: list[Case] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)


async def build_cases(
    stack: contextlib.AsyncExitStack,
    fast: Gateway,
    slow: Gateway,
    profile: Profile,
    wanted: Callable[[str], bool],
) -> Plan:
    """Every configuration the goals compare, pairs next to each other; clients stay open
    (and warm) across repetitions."""
    plan = Plan()

    async def client(
        name: str, server: Gateway, count: int, api: Api = "send_many", **options: Any
    ) -> None:
        if not wanted(name):
            return
        try:
            if api == "stream_send" and not hasattr(MySMSClient, "stream_send"):
                raise FeatureMissing("client.stream_send()")
            opened = await stack.enter_async_context(make_client(server, **options))
        except FeatureMissing as missing:
            plan.missing[name] = f"{NOT_PRESENT}: {missing})"
            return
        plan.cases.append(client_case(name, opened, server, count, api))

    async def single(name: str, backend: str) -> None:
        if not wanted(name):
            return
        try:
            opened = await stack.enter_async_context(make_client(fast, backend=backend))
        except FeatureMissing as missing:
            plan.missing[name] = f"{NOT_PRESENT}: {missing})"
            return
        plan.cases.append(single_send_case(name, opened, fast, profile.single_sends))

    def raw(name: str, sender: RawHttpxSender | RawAiohttpSender, count: int, batch: int) -> None:
        if wanted(name):
            plan.cases.append(raw_case(name, sender, fast, count, batch))

    n100, n1000 = profile.batch100_messages, profile.batch1000_messages
    url = fast.send_url
    raw_httpx = await stack.enter_async_context(raw_httpx_client(4))
    raw_aiohttp = await stack.enter_async_context(raw_aiohttp_session(4))

    # P1a, P1a', P1b, P1c: bulk against the raw loops, fast gateway
    for batch, count in ((100, n100), (1000, n1000)):
        raw(f"raw aiohttp b{batch} x4", RawAiohttpSender(raw_aiohttp, url, batch, 4), count, batch)
        await client(f"send_many aiohttp b{batch} x4", fast, count, backend="aiohttp", batch=batch)
        await client(f"send_many httpx b{batch} x4", fast, count, batch=batch)
        raw(f"raw httpx b{batch} x4", RawHttpxSender(raw_httpx, url, batch, 4), count, batch)

    # P1a, P1a' (issue 19): one-shot, as a script runs: client or session built and closed
    # inside the timing
    for batch, count in ((100, n100), (1000, n1000)):
        name = f"oneshot raw aiohttp b{batch} x4"
        if wanted(name):
            plan.cases.append(oneshot_raw_case(name, fast, count, batch, 4))
        name = f"oneshot send_many aiohttp b{batch} x4"
        if wanted(name):
            options = {"backend": "aiohttp", "batch": batch}
            plan.cases.append(oneshot_client_case(name, fast, count, **options))

    # P7: one send at a time
    if wanted("raw aiohttp send x1"):
        one = RawAiohttpSender(raw_aiohttp, url, 1, 1)
        plan.cases.append(raw_single_case("raw aiohttp send x1", one, fast, profile.single_sends))
    await single("send aiohttp x1", "aiohttp")
    await single("send httpx x1", "httpx")

    # Issue 3's rows, kept to catch regressions (httpx backend)
    await client("send_many httpx GET x4", fast, profile.get_messages, http_method="GET")
    await client("send_many httpx xml b100 x4", fast, n100, wire_format="xml")
    await client("send_many httpx b100 x16", fast, n100, in_flight=16)

    # P3 and P8: 50 ms round trips; the raw aiohttp loop shows what the machine allows
    for n in LATENCY_IN_FLIGHT:
        name = f"raw aiohttp b100 x{n} @50ms"
        if wanted(name):
            session = await stack.enter_async_context(raw_aiohttp_session(n))
            sender = RawAiohttpSender(session, slow.send_url, 100, n)
            count = 100 * n * profile.latency_rounds
            plan.cases.append(raw_case(name, sender, slow, count, 100))
    for backend in BACKENDS:
        for n in LATENCY_IN_FLIGHT:
            count = 100 * n * profile.latency_rounds
            name = f"send_many {backend} b100 x{n} @50ms"
            await client(name, slow, count, backend=backend, in_flight=n)
        count = 100 * 16 * profile.latency_rounds
        for api in ("stream_send", "iter_send"):
            name = f"{api} {backend} b100 x16 @50ms"
            await client(name, slow, count, api, backend=backend, in_flight=16)
    return plan


async def warm_up(plan: Plan) -> None:
    """One unmeasured pass: connections open, code paths and caches warm. A case that fails
    here is reported and dropped (a half-built feature must not stop the other rows)."""
    for case in list(plan.cases):
        try:
            await case.send(case.inputs())
            if case.check is not None:
                case.check()
        except FeatureMissing as missing:
            plan.missing[case.name] = f"{NOT_PRESENT}: {missing})"
            plan.cases.remove(case)
        except Exception as error:
            plan.missing[case.name] = f"n/a (error: {type(error).__name__}: {error})"[:300]
            plan.cases.remove(case)


async def run_rounds(plan: Plan, repeats: int) -> dict[str, list[Sample]]:
    samples: dict[str, list[Sample]] = {case.name: [] for case in plan.cases}
    broken: set[str] = set()
    for repeat in range(repeats):
        print(
            f"  repetition {repeat + 1}/{repeats}, load {os.getloadavg()[0]:.2f}",
            file=sys.stderr,
            flush=True,
        )
        # Alternate the order, so that a drift in the machine's speed does not favour one side.
        for case in plan.cases if repeat % 2 == 0 else reversed(plan.cases):
            if case.name in broken:
                continue
            try:
                samples[case.name].append(await measure(case))
            except Exception as error:
                broken.add(case.name)
                plan.missing[case.name] = f"n/a (error: {type(error).__name__}: {error})"[:300]
    return {name: runs for name, runs in samples.items() if name not in broken}


async def measure_throughput(
    fast: Gateway, slow: Gateway, profile: Profile, wanted: Callable[[str], bool]
) -> tuple[dict[str, list[Sample]], dict[str, str]]:
    async with contextlib.AsyncExitStack() as stack:
        plan = await build_cases(stack, fast, slow, profile, wanted)
        await warm_up(plan)
        return await run_rounds(plan, profile.repeats), plan.missing


# ---------------------------------------------------------------------------------------------
# Memory (fresh processes) and P1d (H3's per-message measurement, its own script)


def measure_memory(
    fast: Gateway, profile: Profile, backend: str, repeats: int
) -> list[dict[str, Any]] | str:
    """Fresh-process probes of one backend, or why there are none."""
    runs = []
    for _ in range(repeats):
        command = [
            sys.executable,
            str(HERE / "memory_probe.py"),
            "--port",
            str(fast.port),
            "--messages",
            str(profile.memory_messages),
            "--warmup",
            str(profile.memory_warmup),
            "--backend",
            backend,
        ]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines()
            return f"n/a (probe failed: {lines[-1] if lines else done.returncode})"[:300]
        run = json.loads(done.stdout)
        if "missing" in run:
            return f"{NOT_PRESENT}: {run['missing']})"
        runs.append(run)
    return runs


#: One row of per_message.py's table: batch, raw us, library us, P1d us, low-high, ...
_PER_MESSAGE_ROW = re.compile(
    r"^\s*(?P<batch>\d+)\s+(?P<raw>[\d.]+)\s+(?P<library>[\d.]+)\s+(?P<delta>-?[\d.]+)"
    r"\s+(?P<low>-?[\d.]+)-(?P<high>-?[\d.]+)",
    re.MULTILINE,
)


def measure_per_message(repeats: int) -> dict[str, Any] | str:
    """Run H3's ``per_message.py`` (P1d) and read its table, or say why not.

    Its rows are ``batch raw-us library-us P1d-us low-high ...``; each batch gives one P1d row
    (the median of its repetitions, and their range).
    """
    if not PER_MESSAGE.exists():
        return f"{NOT_PRESENT}: benchmarks/per_message.py)"
    command = [sys.executable, str(PER_MESSAGE), "--repeat", str(max(repeats, 1))]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return f"n/a (per_message.py failed: {lines[-1] if lines else done.returncode})"[:300]
    rows = {
        int(m["batch"]): {key: float(m[key]) for key in ("raw", "library", "delta", "low", "high")}
        for m in _PER_MESSAGE_ROW.finditer(done.stdout)
    }
    if not rows:
        return "n/a (per_message.py printed no table row)"
    return {"rows": rows, "output": done.stdout}


# ---------------------------------------------------------------------------------------------
# Goals


@dataclass(frozen=True)
class Goal:
    key: str
    label: str
    goal: str
    values: list[float]
    limit: float
    at_most: bool = False
    unit: str = "x"
    missing: str = ""  # why there are no values
    info: bool = False  # shown for context, not one of the goals (issue 19's)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def passed(self) -> bool | None:
        if not self.values:
            return None
        return self.median <= self.limit if self.at_most else self.median >= self.limit


def _rate(sample: Sample) -> float:
    return sample.rate


def _cpu(sample: Sample) -> float:
    return sample.cpu_us_per_message


def _limit_text(limit: float) -> str:
    return f"{limit:.2f}" if limit < 10 else f"{limit:g}"


class GoalBook:
    """Builds goal rows from the samples, with the reason when a side was not measured."""

    def __init__(self, samples: dict[str, list[Sample]], missing: dict[str, str]) -> None:
        self.samples = samples
        self.missing = missing
        self.rows: list[Goal] = []

    def _why_missing(self, *names: str) -> str:
        for name in names:
            if name not in self.samples:
                return self.missing.get(name, "n/a (not run)")
        return ""

    def add(
        self,
        key: str,
        label: str,
        limit: float,
        values: list[float],
        *,
        at_most: bool,
        unit: str = "x",
        missing: str = "",
        info: bool = False,
    ) -> None:
        text = f"{'<=' if at_most else '>='} {_limit_text(limit)}{unit}"
        self.rows.append(Goal(key, label, text, values, limit, at_most, unit, missing, info))

    def ratio(
        self,
        key: str,
        label: str,
        top: str,
        bottom: str,
        metric: Callable[[Sample], float],
        limit: float,
        *,
        at_most: bool,
        info: bool = False,
    ) -> None:
        """Per-repetition ratios ``metric(top) / metric(bottom)``, measured back to back."""
        missing = self._why_missing(top, bottom)
        values: list[float] = []
        if not missing:
            pairs = zip(self.samples[top], self.samples[bottom], strict=True)
            values = [metric(a) / metric(b) for a, b in pairs]
        self.add(key, label, limit, values, at_most=at_most, missing=missing, info=info)

    def of_limit(self, key: str, name: str, in_flight: int, *, info: bool = False) -> None:
        """Throughput over the limit ``batch x in_flight / latency``."""
        missing = self._why_missing(name)
        limit = 100 * in_flight / LATENCY
        values = [] if missing else [s.rate / limit for s in self.samples[name]]
        label = f"msgs/s vs limit {limit:,.0f}/s, {name}"
        self.add(key, label, 0.90, values, at_most=False, missing=missing, info=info)


def goals(
    samples: dict[str, list[Sample]],
    missing: dict[str, str],
    memory: dict[str, list[dict[str, Any]] | str],
    per_message: dict[str, Any] | str,
) -> list[Goal]:
    book = GoalBook(samples, missing)
    # Issue 19's goals; issue 10's warm-client P1a / P1a' rows stay, for context.
    book.ratio(
        "P1a",
        "CPU/msg, one-shot send_many aiohttp vs one-shot raw aiohttp, b100 x4",
        "oneshot send_many aiohttp b100 x4",
        "oneshot raw aiohttp b100 x4",
        _cpu,
        1.3,
        at_most=True,
    )
    book.ratio(
        "P1a'",
        "CPU/msg, one-shot send_many aiohttp vs one-shot raw aiohttp, b1000 x4",
        "oneshot send_many aiohttp b1000 x4",
        "oneshot raw aiohttp b1000 x4",
        _cpu,
        1.6,
        at_most=True,
    )
    book.ratio(
        "info",
        "CPU/msg, send_many aiohttp vs raw aiohttp, warm client, b100 x4 (issue 10's P1a)",
        "send_many aiohttp b100 x4",
        "raw aiohttp b100 x4",
        _cpu,
        1.3,
        at_most=True,
        info=True,
    )
    book.ratio(
        "info",
        "CPU/msg, send_many aiohttp vs raw aiohttp, warm client, b1000 x4 (issue 10's P1a')",
        "send_many aiohttp b1000 x4",
        "raw aiohttp b1000 x4",
        _cpu,
        1.6,
        at_most=True,
        info=True,
    )
    book.ratio(
        "P1b",
        "msgs/s, send_many aiohttp vs send_many httpx, b100 x4",
        "send_many aiohttp b100 x4",
        "send_many httpx b100 x4",
        _rate,
        3.0,
        at_most=False,
    )
    p1d = "library work per message above raw, no I/O (per_message.py)"
    if isinstance(per_message, str):
        book.add("P1d", p1d, 0.5, [], at_most=True, unit=" us", missing=per_message)
    else:
        for batch, row in sorted(per_message["rows"].items()):
            # per_message.py gives the median and range; the range's ends stand for the spread.
            values = [row["low"], row["delta"], row["high"]]
            book.add("P1d", f"{p1d}, b{batch}", 0.5, values, at_most=True, unit=" us")
    book.ratio(
        "P1c",
        "CPU/msg, send_many httpx vs raw httpx, b1000 x4",
        "send_many httpx b1000 x4",
        "raw httpx b1000 x4",
        _cpu,
        1.1,
        at_most=True,
    )
    for n in LATENCY_IN_FLIGHT:
        # Issue 19: against the raw aiohttp loop measured the same way (issue 10 measured it
        # against the limit B*C/RTT; that row stays, for context).
        book.ratio(
            "P3",
            f"msgs/s, send_many aiohttp vs raw aiohttp, b100 x{n} @50ms",
            f"send_many aiohttp b100 x{n} @50ms",
            f"raw aiohttp b100 x{n} @50ms",
            _rate,
            0.97,
            at_most=False,
        )
    for n in LATENCY_IN_FLIGHT:
        book.of_limit("info", f"send_many aiohttp b100 x{n} @50ms", n, info=True)
    book.ratio(
        "P7",
        "CPU/request, send (aiohttp) vs raw aiohttp request, 1 in flight",
        "send aiohttp x1",
        "raw aiohttp send x1",
        _cpu,
        1.15,
        at_most=True,
    )
    for backend in ("aiohttp", "httpx"):
        for api in ("stream_send", "iter_send"):
            book.ratio(
                "P8",
                f"msgs/s, {api} vs send_many, {backend} @50ms x16",
                f"{api} {backend} b100 x16 @50ms",
                f"send_many {backend} b100 x16 @50ms",
                _rate,
                0.95,
                at_most=False,
                info=not (backend == "aiohttp" and api == "stream_send"),
            )
    for backend in ("aiohttp", "httpx"):
        probes = memory.get(backend, "n/a (not run)")
        label = f"peak RSS growth, streamed messages, {backend}"
        if isinstance(probes, str):
            book.add("P4", label, 10, [], at_most=True, unit=" MB", missing=probes)
        else:
            label = f"peak RSS growth, {probes[0]['api']} of {probes[0]['messages']:,}, {backend}"
            values = [run["growth_mb"] for run in probes]
            book.add("P4", label, 10, values, at_most=True, unit=" MB")
    # For context: where the httpx backend stands, and issue 3's rows kept against regressions.
    book.ratio(
        "info",
        "CPU/msg, send_many httpx vs raw httpx, b100 x4",
        "send_many httpx b100 x4",
        "raw httpx b100 x4",
        _cpu,
        1.5,
        at_most=True,
        info=True,
    )
    book.ratio(
        "info",
        "CPU/request, send (httpx) vs raw aiohttp request, 1 in flight",
        "send httpx x1",
        "raw aiohttp send x1",
        _cpu,
        1.3,
        at_most=True,
        info=True,
    )
    for n in LATENCY_IN_FLIGHT:
        book.of_limit("info", f"raw aiohttp b100 x{n} @50ms", n, info=True)
    for n in LATENCY_IN_FLIGHT:
        book.of_limit("info", f"send_many httpx b100 x{n} @50ms", n, info=True)
    book.ratio(
        "3/2",
        "msgs/s, POST b100 vs one GET per message, httpx x4",
        "send_many httpx b100 x4",
        "send_many httpx GET x4",
        _rate,
        50,
        at_most=False,
        info=True,
    )
    book.ratio(
        "3/5",
        "msgs/s, XML vs JSON send_many, httpx b100 x4",
        "send_many httpx xml b100 x4",
        "send_many httpx b100 x4",
        _rate,
        0.5,
        at_most=False,
        info=True,
    )
    book.ratio(
        "3/6",
        "msgs/s, 16 vs 4 in flight, httpx b100",
        "send_many httpx b100 x16",
        "send_many httpx b100 x4",
        _rate,
        0.9,
        at_most=False,
        info=True,
    )
    return book.rows


# ---------------------------------------------------------------------------------------------
# Report


def machine() -> list[str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    packages = (
        "httpx",
        "httpcore",
        "h11",
        "aiohttp",
        "multidict",
        "yarl",
        "anyio",
        "sniffio",
        "msgspec",
    )
    versions = ", ".join(f"{name} {_version(name)}" for name in packages)
    commit = subprocess.run(
        ["git", "-C", str(HERE), "log", "-1", "--format=%h %s"], capture_output=True, text=True
    ).stdout.strip()
    lines = [
        f"CPU: {cpu}, {os.cpu_count()} cores",
        f"Python {platform.python_version()} ({platform.python_implementation()}),"
        f" {platform.system()} {platform.release()}",
        f"mysms-async {_version('mysms-async')} from {Path(mysms_async.__file__).parent},"
        f" git HEAD {commit[:70]}",
        versions,
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


def detail_table(samples: dict[str, list[Sample]], missing: dict[str, str]) -> list[str]:
    lines = [
        "| configuration | messages | msgs/s | client CPU us/msg | of which GC"
        " | client CPU us/request | wall us/request | gateway CPU share | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, runs in samples.items():
        loads = [s.load for s in runs]
        lines.append(
            f"| {name} | {runs[0].messages:,} | {_median(runs, _rate):,.0f}"
            f" | {_median(runs, _cpu):.2f}"
            f" | {_median(runs, lambda s: s.gc_us_per_message):.2f}"
            f" | {_median(runs, lambda s: s.cpu_us_per_request):,.0f}"
            f" | {_median(runs, lambda s: s.wall_us_per_request):,.0f}"
            f" | {_median(runs, lambda s: s.server_share):.0%}"
            f" | {min(loads):.2f}-{max(loads):.2f} |"
        )
    for name, why in missing.items():
        lines.append(f"| {name} | {why} | | | | | | | |")
    return lines


def failure_lines(samples: dict[str, list[Sample]]) -> list[str]:
    """Messages that were not accepted: the fake gateway accepts all, so each is a finding."""
    return [
        f"- {name}, repetition {index + 1}: {s.failed:,} failed, first: {s.first_failure}"
        for name, runs in samples.items()
        for index, s in enumerate(runs)
        if s.failed
    ] or ["- none: every message of every sample was accepted"]


def _result_text(row: Goal) -> str:
    if row.passed is None:
        return "n/a"
    if row.info:
        return "(info) " + ("within" if row.passed else "outside")
    return "met" if row.passed else "MISSED"


def goal_table(rows: Sequence[Goal]) -> list[str]:
    lines = ["| # | measure | goal | median | range | result |", "|---|---|---|---:|---|---|"]
    for row in rows:
        if not row.values:
            lines.append(f"| {row.key} | {row.label} | {row.goal} | {row.missing} | | n/a |")
            continue
        low, high = min(row.values), max(row.values)
        lines.append(
            f"| {row.key} | {row.label} | {row.goal} | {row.median:.2f}{row.unit}"
            f" | {low:.2f}-{high:.2f} | {_result_text(row)} |"
        )
    return lines


def memory_lines(memory: dict[str, list[dict[str, Any]] | str]) -> list[str]:
    lines = []
    for backend, probes in memory.items():
        if isinstance(probes, str):
            lines.append(f"- {backend}: {probes}")
            continue
        lines.extend(
            f"- {backend}, {run['api']}, {run['messages']:,.0f} messages in {run['seconds']:.1f} s:"
            f" peak RSS {run['peak_before_mb']:.1f} -> {run['peak_after_mb']:.1f} MB"
            f" (+{run['growth_mb']:.2f} MB), load {run.get('load', 0.0):.2f}"
            for run in probes
        )
    return lines


def save(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str))


# ---------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run (~1 minute)")
    parser.add_argument("--repeats", type=int, help="repetitions per measurement")
    parser.add_argument(
        "--only", help="regular expression: run only the configurations whose name it matches"
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the memory probes")
    parser.add_argument(
        "--pin", action="store_true", help="client on one CPU, the gateways on the other(s)"
    )
    parser.add_argument("--memory-repeats", type=int, help="probes per backend (default: repeats)")
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help="memory probes: which backends, a,b"
    )
    parser.add_argument("--no-per-message", action="store_true", help="skip per_message.py")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the raw samples go")
    parser.add_argument(
        "--priority",
        type=int,
        help="nice value for this run and its children (the gateway, the probes); a negative one"
        " (root only) keeps other work on a shared machine from taking the measured cores",
    )
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    profile = QUICK if args.quick else FULL
    if args.repeats:
        profile = Profile(**{**asdict(profile), "repeats": args.repeats})
    only = re.compile(args.only) if args.only else None
    # Stopped with SIGTERM, still stop the gateways (the ``finally`` of ``gateway()``).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.priority is not None:
        os.setpriority(os.PRIO_PROCESS, 0, args.priority)

    def wanted(name: str) -> bool:
        return only is None or only.search(name) is not None

    started = time.perf_counter()
    load_before = os.getloadavg()
    print("\n".join(machine()))
    nice = os.getpriority(os.PRIO_PROCESS, 0)
    pinned = pin() if args.pin else "not pinned"
    mode = "quick" if args.quick else "full"
    print(f"mode: {mode}, nice {nice}, {pinned}, {profile}\n", flush=True)
    memory: dict[str, list[dict[str, Any]] | str] = {}
    with gateway(0.0) as fast, gateway(LATENCY) as slow:
        print("throughput rounds ...", file=sys.stderr, flush=True)
        samples, missing = asyncio.run(measure_throughput(fast, slow, profile, wanted))
        if not args.no_memory:
            repeats = args.memory_repeats or profile.repeats
            for backend in args.backends.split(","):
                print(f"memory probes, {backend} ...", file=sys.stderr, flush=True)
                memory[backend] = measure_memory(fast, profile, backend, repeats)
    per_message: dict[str, Any] | str = "n/a (not run)"
    if not args.no_per_message:
        print("per_message.py ...", file=sys.stderr, flush=True)
        per_message = measure_per_message(profile.repeats)
    rows = goals(samples, missing, memory, per_message)
    load_after = os.getloadavg()
    scored = [row for row in rows if not row.info]
    report = [
        "Configurations (medians; 'xN' = requests in flight; load = 1-minute load average"
        " at each sample's start):",
        *detail_table(samples, missing),
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
        f"Load average (1/5/15 min) {'/'.join(f'{x:.2f}' for x in load_before)} at start,"
        f" {'/'.join(f'{x:.2f}' for x in load_after)} at end: other processes on this machine"
        " share its 2 cores and skew wall-clock rows.",
        f"{sum(bool(r.passed) for r in scored)} of {len(scored)} goals met,"
        f" {sum(r.passed is None for r in scored)} not measured;"
        f" total time {time.perf_counter() - started:.0f} s; raw numbers in {args.out}",
    ]
    print("\n".join(report))
    save(
        args.out,
        {
            "machine": machine(),
            "nice": os.getpriority(os.PRIO_PROCESS, 0),
            "pinned": pinned,
            "load_before": load_before,
            "load_after": load_after,
            "samples": {k: [asdict(s) for s in v] for k, v in samples.items()},
            "missing": missing,
            "memory": memory,
            "per_message": per_message,
            "goals": [
                asdict(row) | {"median": row.median if row.values else None, "passed": row.passed}
                for row in rows
            ],
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
