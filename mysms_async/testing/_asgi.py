"""The emulator's ASGI plumbing: reading a request body, writing an answer, or failing to.

The ways of failing are those of :mod:`._faults`: a connection dropped before any answer, or an
answer cut half-way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from ._faults import GatewayDisconnect

__all__ = [
    "Answer",
    "App",
    "Receive",
    "Refused",
    "Scope",
    "Send",
    "drop",
    "read_body",
    "refuse",
    "respond",
    "truncated",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
#: An ASGI 3 application: what the transport and the server carry requests into.
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class Refused(Exception):
    """Raised by the app, in-process only, to refuse the connection before reading anything.

    The in-process transport turns it into the ``httpx.ConnectError`` of a refused connection.
    """

    def __init__(self) -> None:
        super().__init__("the fake gateway refused the connection")


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @classmethod
    def text(cls, status: int, text: str, *headers: tuple[str, str]) -> Answer:
        return cls(status, (("content-type", "text/plain; charset=utf-8"), *headers), text.encode())


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body, or ``None`` if the client went away first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _raw_headers(answer: Answer, content_length: int) -> list[tuple[bytes, bytes]]:
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers
    ]
    if not any(name == b"content-length" for name, _ in headers):
        headers.append((b"content-length", str(content_length).encode()))
    return headers


async def respond(send: Send, answer: Answer) -> None:
    headers = _raw_headers(answer, len(answer.body))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body, "more_body": False})


async def refuse(send: Send, in_process: bool) -> None:
    """Refuse the connection (a ``ConnectRefused`` fault), before the body is read.

    In-process nothing has been connected yet: :class:`Refused` tells the transport so. Over a
    socket the server has already accepted the connection; there it is dropped instead.
    """
    if in_process:
        raise Refused()
    await drop(send, in_process, 0)


async def drop(send: Send, in_process: bool, expected: int) -> None:
    """Close the connection without an answer.

    In-process, the transport turns the exception into the error of a connection closed before
    any response byte. An ASGI server answers 500 to an app that fails before starting its
    response, so there the headers go out first, announcing a body that never comes.
    """
    if in_process:
        raise GatewayDisconnect()
    expected = max(expected, 1)  # a length of 0 would make the empty response complete
    headers = [(b"content-length", str(expected).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    raise GatewayDisconnect(received=0, expected=expected)


async def truncated(send: Send, answer: Answer, *, close: bool) -> None:
    """Half the answer: announced whole and cut (``close``), or announced as half."""
    half = answer.body[: len(answer.body) // 2]
    if not close:
        await respond(send, Answer(answer.status, answer.headers, half))
        return
    headers = _raw_headers(answer, len(answer.body))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": half, "more_body": True})
    raise GatewayDisconnect(received=len(half), expected=len(answer.body))
