"""An answer belongs to its own request: stray answers on idle kept-alive connections (issue 14
item 1), on both engines, over loopback.

A proxy or load balancer that replays an answer on a kept-alive connection after the request was
answered: the copy arrives while no request waits on the connection. aiohttp used to read it into
the idle connection's buffer and hand it to the next request written there, which was reported
accepted with another message's id, and never reached the gateway. The raw server here
(``raw_server.py``) issues its own id for every message it receives, replays the first answer on
each connection 0, 1, 5, 20 or 50 ms later (0: in the same write as the answer; otherwise only
if the connection is still idle then), and counts every message it received.

The invariant, for every engine, method, format, single sends and bulk runs (``send_many``,
``stream_send``): every reported id was issued by the server for that very message, no message
reached the server twice, and every message that reached it is reported (accepted with its id,
or unknown). With the replay on an idle connection, nothing is even unknown: the connection is
retired and the next request goes out once, on a fresh one.

The client waits for the server's replays to be written (``RawServer.settle``, an event, no
sleeps) before its next request or run, so that every replay meets an idle connection: a copy
still in flight while the next request is written cannot be told from its answer by any client.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from fault_cases import PASSWORD, SENDER, USERNAME
from raw_server import RawServer, Received, Reply, raw_server, send_answer_for, texts_of

from mysms_async import DeliveryUnknownError, Message, MySMSClient, SendResult

ENGINES = ("httpx", "aiohttp")
DELAYS_MS = (0, 1, 5, 20, 50)
DESTINATION = "79112223344"


class Gateway:
    """Issues an id per message received, replays the first answer on each connection."""

    def __init__(self, delay: float, *, gated: bool) -> None:
        self.delay = delay
        #: Set while the client holds its results and sends nothing (``gated``): replays wait
        #: for it, so each meets a connection idle in the client's pool, never one being read.
        self.client_idle: threading.Event | None = threading.Event() if gated else None
        self.issued: dict[str, str] = {}  # id -> the text of the message it was issued for
        self.texts: collections.Counter[str] = collections.Counter()
        self._seen: set[int] = set()
        self._lock = threading.Lock()

    def __call__(self, request: Received, index: int) -> Reply:
        texts = texts_of(request)
        with self._lock:
            ids = [f"id-{index}-{position}" for position in range(len(texts))]
            self.issued.update(zip(ids, texts, strict=True))
            self.texts.update(texts)
            first = request.connection not in self._seen
            self._seen.add(request.connection)
        answer = send_answer_for(request, ids)
        if not first:
            return Reply(answer)
        return Reply(answer, replay_after=self.delay, replay_when=self.client_idle)


@pytest.fixture(params=DELAYS_MS, ids=[f"{d}ms" for d in DELAYS_MS])
def gateway(request: pytest.FixtureRequest) -> Iterator[tuple[Gateway, RawServer, int]]:
    """Replays that meet an idle connection: the client must lose nothing."""
    script = Gateway(request.param / 1000, gated=True)
    with raw_server(script) as (server, port):
        yield script, server, port


@pytest.fixture(params=DELAYS_MS[1:3], ids=[f"{d}ms" for d in DELAYS_MS[1:3]])
def hasty_gateway(request: pytest.FixtureRequest) -> Iterator[tuple[Gateway, RawServer, int]]:
    """Replays on the clock alone: a copy may arrive while the client still reads the answer
    (then that answer is not trusted: unknown), or once the connection is idle."""
    script = Gateway(request.param / 1000, gated=False)
    with raw_server(script) as (server, port):
        yield script, server, port


def client_for(
    port: int, engine: str, method: str, wire_format: str, **options: Any
) -> MySMSClient:
    return MySMSClient(
        USERNAME,
        PASSWORD,
        sender=SENDER,
        base_url=f"http://127.0.0.1:{port}/rest/sms/",
        backend=engine,
        http_method=method,
        wire_format=wire_format,
        retry_backoff=0,
        timeout=5,
        **options,
    )


async def settled(gateway: Gateway, server: RawServer) -> None:
    """The client holds its results: let the replays due be written (or dropped), and wait
    until they are, so that the next request meets connections that have received them."""
    if gateway.client_idle is not None:
        gateway.client_idle.set()
    await anyio.to_thread.run_sync(server.settle)
    if gateway.client_idle is not None:
        gateway.client_idle.clear()


def check(gateway: Gateway, server: RawServer, results: list[SendResult], texts: list[str]) -> None:
    assert [r.message.text for r in results] == texts  # one outcome per message, in order
    for result in results:
        if result.id is not None:
            # The id the server issued for this very message, never another request's.
            assert gateway.issued.get(result.id) == result.message.text, result
        else:
            assert isinstance(result.error, DeliveryUnknownError), result
    assert max(gateway.texts.values(), default=0) <= 1  # nothing reached the server twice
    unknown = [r.message.text for r in results if r.id is None]
    # Every message the server did not get is unknown, never accepted (the id check above);
    # every message it got is reported: accepted with its own id, or unknown.
    assert set(gateway.texts) <= {r.message.text for r in results}
    if gateway.delay > 0 and gateway.client_idle is not None:
        # A replay on an idle connection costs nothing: that connection is retired, the next
        # request goes out on a fresh one, once.
        assert unknown == []
        assert set(gateway.texts) == set(texts)
    assert server.replays >= 1  # the case was really played


@pytest.mark.parametrize("wire_format", ["json", "xml"])
@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("engine", ENGINES)
async def test_single_sends_never_take_a_stray_answer(
    gateway: tuple[Gateway, RawServer, int], engine: str, method: str, wire_format: str
) -> None:
    script, server, port = gateway
    texts = [f"single {i}" for i in range(4)]
    results: list[SendResult] = []
    async with client_for(port, engine, method, wire_format, max_concurrency=1) as client:
        for text in texts:
            try:
                results.append(await client.send(DESTINATION, text))
            except DeliveryUnknownError as exc:
                results.append(SendResult(Message(DESTINATION, text), None, None, exc))
            await settled(script, server)
    check(script, server, results, texts)
    # Each send met a connection that had been answered twice: none was used again.
    assert server.connections == len(texts)


async def bulk_runs(
    gateway: tuple[Gateway, RawServer, int], engine: str, method: str, wire_format: str
) -> None:
    """Runs of four requests (four connections) one after the other on one client: between
    runs, connections got a replay; ``send_many`` and ``stream_send`` alike."""
    script, server, port = gateway
    per_run = 4 * (3 if method == "POST" else 1)
    all_texts: list[str] = []
    all_results: list[SendResult] = []
    async with client_for(
        port, engine, method, wire_format, max_concurrency=4, batch_size=3
    ) as client:
        for run in range(4):
            texts = [f"run {run} message {i}" for i in range(per_run)]
            messages = [Message(DESTINATION, text) for text in texts]
            if run % 2 == 0:
                results = await client.send_many(messages)
            else:
                async with client.stream_send(messages) as stream:
                    results = [result async for result in stream]
            all_texts += texts
            all_results += results
            await settled(script, server)
    check(script, server, all_results, all_texts)


@pytest.mark.parametrize("wire_format", ["json", "xml"])
@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("engine", ENGINES)
async def test_bulk_runs_never_take_a_stray_answer(
    gateway: tuple[Gateway, RawServer, int], engine: str, method: str, wire_format: str
) -> None:
    await bulk_runs(gateway, engine, method, wire_format)


@pytest.mark.parametrize("wire_format", ["json", "xml"])
@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("engine", ENGINES)
async def test_bulk_runs_with_replays_on_the_clock(
    hasty_gateway: tuple[Gateway, RawServer, int], engine: str, method: str, wire_format: str
) -> None:
    """The replays of the issue: 1 or 5 ms after the answer, whatever the client is doing.
    A copy that arrives before the client is done with the answer makes that answer unknown;
    none is ever read as another request's answer."""
    await bulk_runs(hasty_gateway, engine, method, wire_format)
