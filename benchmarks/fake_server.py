"""A minimal fake gateway for the benchmarks: raw asyncio HTTP/1.1 with keep-alive.

It runs in its own process so that the client's CPU is what the harness measures. It does as
little as it can per request: find the end of the headers, read ``Content-Length`` bytes, count
the messages in the body (``"destination"`` / ``"id"`` for JSON, ``<message>`` for XML), and
answer a documented-shape body for that many entries, cached by (endpoint, count). With
``--latency`` every answer is written that many seconds after the request was read (a timer, not
a task per request: the cheapest way to hold an answer back).

    python benchmarks/fake_server.py --latency 0.05

prints ``PORT <n>`` on stdout once it listens on 127.0.0.1, and serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import signal
import sys
from urllib.parse import unquote_to_bytes

PREFIX = b"/rest/sms/"
XML_NS = b'xmlns:i="http://www.w3.org/2001/XMLSchema-instance"'
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"


def _entry_id(index: int) -> str:
    return f"e061d23c-0000-4000-8000-{index:012d}"


@functools.lru_cache(maxsize=64)
def batch_json(count: int) -> bytes:
    entries = ",".join(f'{{"id":"{_entry_id(i)}","state":"2"}}' for i in range(count))
    return f'{{"state":"0","data":[{entries}]}}'.encode()


@functools.lru_cache(maxsize=64)
def batch_xml(root: bytes, count: int) -> bytes:
    entries = "".join(
        f"<message><id>{_entry_id(i)}</id><state>2</state></message>" for i in range(count)
    )
    return b"<%s %s><state>0</state><data>%s</data></%s>" % (
        root,
        XML_NS,
        entries.encode(),
        root,
    )


def _credit(fmt: bytes) -> bytes:
    if fmt == b"json":
        return b'{"state":"0","balance":"77212,0000"}'
    return b"<getBalance %s><state>0</state><balance>77212,0000</balance></getBalance>" % XML_NS


def _count(operation: bytes, fmt: bytes, method: bytes, body: bytes) -> int:
    """Messages (or ids) in the request: one for a GET, else the markers in the body."""
    if method == b"GET":
        return 1
    if fmt == b"xml":
        return body.count(b"<message>")
    return body.count(b'"destination"' if operation == b"send" else b'"id"')


@functools.lru_cache(maxsize=256)
def _response(operation: bytes, fmt: bytes, count: int, post: bool) -> bytes:
    if operation == b"credit":
        body = _credit(fmt)
    elif fmt == b"json":
        body = batch_json(count)
    else:
        root = b"checkSMS" if operation == b"status" and post else b"sendSMS"
        body = batch_xml(root, count)
    kind = b"application/json" if fmt == b"json" else b"application/xml"
    head = b"HTTP/1.1 200 OK\r\ncontent-type: %s; charset=utf-8\r\ncontent-length: %d\r\n\r\n"
    return head % (kind, len(body)) + body


def answer(method: bytes, target: bytes, body: bytes) -> bytes:
    """The full HTTP response for one request."""
    path = target.split(b"?", 1)[0]
    if not path.startswith(PREFIX):
        return _NOT_FOUND
    operation, _, fmt = unquote_to_bytes(path[len(PREFIX) :]).partition(b"/")
    if operation not in (b"send", b"status", b"credit") or fmt not in (b"json", b"xml"):
        return _NOT_FOUND
    count = _count(operation, fmt, method, body)
    return _response(operation, fmt, count, method == b"POST")


def _content_length(head: bytes) -> int:
    lowered = head.lower()
    at = lowered.find(b"\r\ncontent-length:")
    if at < 0:
        return 0
    end = lowered.find(b"\r\n", at + 2)
    return int(lowered[at + 17 : end if end >= 0 else None])


class GatewayProtocol(asyncio.Protocol):
    """One connection: requests are read in order and answered in order (no pipelining needed)."""

    def __init__(self, latency: float) -> None:
        self._latency = latency
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            request = self._next_request()
            if request is None:
                return
            self._reply(answer(*request))

    def _next_request(self) -> tuple[bytes, bytes, bytes] | None:
        buffer = self._buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = bytes(buffer[:end])
        length = _content_length(head)
        total = end + 4 + length
        if len(buffer) < total:
            return None
        body = bytes(buffer[end + 4 : total])
        del buffer[:total]
        method, target, _ = head.split(b" ", 2)
        return method, target, body

    def _reply(self, response: bytes) -> None:
        if self._latency > 0:
            self._loop.call_later(self._latency, self._write, response)
        else:
            self._write(response)

    def _write(self, response: bytes) -> None:
        if self._transport is not None:
            self._transport.write(response)


async def serve(latency: float, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: GatewayProtocol(latency), "127.0.0.1", port, backlog=1024
    )
    bound = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"PORT {bound}\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args()
    asyncio.run(serve(args.latency, args.port))


if __name__ == "__main__":
    main()
