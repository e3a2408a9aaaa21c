"""A tiny HTTP/1.1 server on loopback that misbehaves on purpose, byte by byte.

The emulator speaks through uvicorn, which will not drop a connection after reading a request
without a byte, answer one request twice, or act as a forward proxy. This server reads each
request whole (headers and ``Content-Length`` body), records it, and lets a script decide what
goes back: bytes to write and whether to close, or a close without a byte, and whether to send
the same bytes again later on the idle connection (a proxy replaying an answer).

Helper module (not collected): imported by the tests beside it.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from xml.etree import ElementTree


@dataclass(frozen=True)
class Received:
    request_line: str
    headers: dict[str, str]
    body: bytes
    connection: int

    @property
    def method(self) -> str:
        return self.request_line.split(" ", 1)[0]

    @property
    def target(self) -> str:
        return self.request_line.split(" ")[1]


@dataclass(frozen=True)
class Reply:
    """What to write back (``None``: nothing), and whether to close the connection after.

    ``replay_after`` (seconds): write ``data`` once more that long after it, if the connection
    is still idle then (no byte of a next request arrived); 0 writes both copies in one go.
    With ``replay_when``, the replay also waits for that event (set by a test once the client
    holds its results, so the copy surely meets a connection the client is not reading).
    A replay that would meet a request already on its way is dropped, so that the server never
    makes a race no client could win (an answer in flight when the next request is written).
    """

    data: bytes | None
    close: bool = False
    replay_after: float | None = None
    replay_when: threading.Event | None = None


Script = Callable[[Received, int], Reply]


def http_response(
    body: bytes, *, status: str = "200 OK", headers: dict[str, str] | None = None
) -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}"]
    head += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def send_answer(message_id: str) -> bytes:
    """A JSON send answer for one message, accepted with ``message_id``."""
    body = json.dumps({"state": "0", "data": [{"id": message_id, "state": "2"}]}).encode()
    return http_response(body, headers={"Content-Type": "application/json"})


def balance_answer() -> bytes:
    body = json.dumps({"state": "0", "balance": "10,0000"}).encode()
    return http_response(body, headers={"Content-Type": "application/json"})


def status_answer(message_id: str) -> bytes:
    return send_answer(message_id)


@dataclass
class RawServer:
    script: Script
    received: list[Received] = field(default_factory=list)
    connections: int = 0
    #: Replays written on an idle connection, and replays dropped because a request came first.
    replays: int = 0
    replays_dropped: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _settled: threading.Condition = field(default_factory=threading.Condition)
    _pending: int = 0

    def settle(self, timeout: float = 10) -> None:
        """Block until every replay due has been written or dropped (run it in a thread)."""
        with self._settled:
            if not self._settled.wait_for(lambda: self._pending == 0, timeout):
                raise TimeoutError("replays still pending")

    def _replay(self, conn: socket.socket, reply: Reply) -> None:
        assert reply.data is not None and reply.replay_after is not None
        try:
            if reply.replay_after == 0:
                conn.sendall(reply.data + reply.data)
                with self._lock:
                    self.replays += 1
                return
            with self._settled:
                self._pending += 1
            try:
                conn.sendall(reply.data)
                idle = not select.select([conn], [], [], reply.replay_after)[0]
                if idle and reply.replay_when is not None:
                    reply.replay_when.wait(10)
                    idle = not select.select([conn], [], [], 0)[0]
                if idle:
                    conn.sendall(reply.data)
                with self._lock:
                    if idle:
                        self.replays += 1
                    else:
                        self.replays_dropped += 1
            finally:
                with self._settled:
                    self._pending -= 1
                    self._settled.notify_all()
        except OSError:
            return

    def _read_request(self, conn: socket.socket, buffer: bytearray, number: int) -> Received | None:
        while b"\r\n\r\n" not in buffer:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            buffer += chunk
        head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = bytearray(rest)
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            body += chunk
        buffer[:] = body[length:]
        return Received(lines[0], headers, bytes(body[:length]), number)

    def _serve_connection(self, conn: socket.socket, number: int) -> None:
        buffer = bytearray()
        with conn:
            while True:
                try:
                    request = self._read_request(conn, buffer, number)
                except OSError:
                    return
                if request is None:
                    return
                with self._lock:
                    self.received.append(request)
                    index = len(self.received) - 1
                reply = self.script(request, index)
                try:
                    if reply.data is not None and reply.replay_after is not None:
                        self._replay(conn, reply)
                    elif reply.data is not None:
                        conn.sendall(reply.data)
                except OSError:
                    return
                if reply.close:
                    return

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self.connections += 1
                number = self.connections
            threading.Thread(
                target=self._serve_connection, args=(conn, number), daemon=True
            ).start()


@contextmanager
def raw_server(script: Script) -> Iterator[tuple[RawServer, int]]:
    """Serve ``script`` on a loopback port: yields the server and its port."""
    server = RawServer(script)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port: int = listener.getsockname()[1]
    thread = threading.Thread(target=server._accept, args=(listener,), daemon=True)
    thread.start()
    try:
        yield server, port
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the thread
        listener.close()
        thread.join(timeout=2)


def texts_of(request: Received) -> list[str]:
    """The texts of the messages a send request carries (GET query or POST JSON/XML body)."""
    if request.method == "GET":
        query = urllib.parse.urlsplit(request.target).query
        return [value for name, value in urllib.parse.parse_qsl(query) if name == "t"]
    if request.target.split("?", 1)[0].rstrip("/").endswith("json"):
        return [entry["text"] for entry in json.loads(request.body)["data"]]
    root = ElementTree.fromstring(request.body)  # the client's own XML, not a stranger's
    return [element.text or "" for element in root.iter("text")]


def send_answer_for(request: Received, ids: list[str]) -> bytes:
    """A send answer accepting each message with its id, in the format the request asked."""
    if request.target.split("?", 1)[0].rstrip("/").endswith("json"):
        body = json.dumps({"state": "0", "data": [{"id": i, "state": "2"} for i in ids]})
        return http_response(body.encode(), headers={"Content-Type": "application/json"})
    entries = "".join(f"<message><id>{i}</id><state>2</state></message>" for i in ids)
    body = f"<sendSMS><state>0</state><data>{entries}</data></sendSMS>"
    return http_response(body.encode(), headers={"Content-Type": "application/xml"})
