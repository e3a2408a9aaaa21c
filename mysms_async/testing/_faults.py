"""The faults the emulator can inject: small frozen values, one per way a gateway can fail.

Every fault says, in ``processed``, whether the request it spoils is still carried out. That is
what a client's retry logic must get right: a send whose answer was lost after processing
(``processed=True``) has already sent and charged its messages, and retrying it sends them twice;
a send refused before processing (``processed=False``) sent nothing and is safe to retry.

========================  =========  ==========================================================
fault                     processed  the client sees
========================  =========  ==========================================================
``Latency``               yes        the normal answer, ``seconds`` late (a read timeout if that
                                     is longer than the client waits)
``DropAfterRead``         yes        the connection closed without an answer
``TruncatedBody``         yes        the normal answer cut in half (or the connection closed
                                     half-way, with ``close=True``)
``DataLength``            yes        the normal answer with ``data`` ``delta`` entries longer
                                     (or shorter, if negative)
``HTTPErrorStatus``       no         an HTTP error status, with ``Retry-After`` if given
``ErrorState``            no         HTTP 200 with a top-level error state (-50, -51, -52)
``HTMLPage``              no*        an HTML error page
``EmptyBody``             no*        an empty body
``WrongShape``            no*        a well-formed JSON or XML body of the wrong shape
``RawBody``               no*        exactly the bytes and headers given
``ConnectRefused``        no         ``httpx.ConnectError``: the request never reached the app
========================  =========  ==========================================================

\\* ``processed`` is a field of these, ``False`` by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal

__all__ = [
    "ConnectRefused",
    "DataLength",
    "DropAfterRead",
    "EmptyBody",
    "Endpoint",
    "ErrorState",
    "Fault",
    "GatewayDisconnect",
    "HTMLPage",
    "HTTPErrorStatus",
    "Latency",
    "RawBody",
    "TruncatedBody",
    "WrongShape",
]

Endpoint = Literal["send", "status", "credit"]
"""The three operations of the gateway; faults may be aimed at one of them."""


@dataclass(frozen=True)
class Latency:
    """Carry out the request, then wait ``seconds`` before answering."""

    seconds: float
    processed: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if self.seconds < 0:
            raise ValueError("Latency.seconds must not be negative")


@dataclass(frozen=True)
class DropAfterRead:
    """Carry out the request, then close the connection without answering.

    The worst case for a send: the messages are accepted and charged, and the client cannot know.
    Through :meth:`FakeGateway.transport` the client gets ``httpx.RemoteProtocolError``; over a
    real socket the connection closes after the response headers, before any body byte.
    """

    processed: ClassVar[bool] = True


@dataclass(frozen=True)
class TruncatedBody:
    """Carry out the request, then send only the first half of the answer's bytes.

    With ``close=False`` the response is complete at the HTTP level (its ``Content-Length`` is that
    of the half), so the client gets a body it cannot decode. With ``close=True`` the headers
    announce the whole length and the connection closes after the half, which httpx reports as
    ``RemoteProtocolError`` ("peer closed connection without sending complete message body").
    """

    close: bool = False
    processed: ClassVar[bool] = True


@dataclass(frozen=True)
class DataLength:
    """Carry out the request, then answer with ``delta`` more (or, if negative, fewer) ``data``
    entries than the request had messages or ids. Added entries carry fresh, unknown ids.

    Aimed only at send and status: a balance answer has no ``data``.
    """

    delta: int
    processed: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if self.delta == 0:
            raise ValueError("DataLength.delta must not be 0")


@dataclass(frozen=True)
class HTTPErrorStatus:
    """Answer with HTTP ``code`` (500, 502, 503, 429, ...) before carrying anything out.

    ``retry_after`` becomes a ``Retry-After`` header: a number of seconds, or a string sent as
    written (an HTTP date, or something malformed to test the client's parser).
    """

    code: int = 503
    retry_after: float | str | None = None
    processed: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if not 400 <= self.code <= 599:
            raise ValueError("HTTPErrorStatus.code must be an HTTP error status (400-599)")


@dataclass(frozen=True)
class ErrorState:
    """Answer HTTP 200 with the top-level ``state`` ``code`` and no data, before carrying anything
    out: the document's "internal server error" codes are -50, -51 and -52."""

    code: int = -50
    processed: ClassVar[bool] = False


@dataclass(frozen=True)
class HTMLPage:
    """Answer with an HTML error page (a proxy's, a captive portal's) and HTTP ``status``."""

    status: int = 200
    processed: bool = False


@dataclass(frozen=True)
class EmptyBody:
    """Answer with an empty body, ``Content-Length: 0``, and HTTP ``status``."""

    status: int = 200
    processed: bool = False


@dataclass(frozen=True)
class WrongShape:
    """Answer HTTP 200 with a well-formed body of the endpoint's format whose shape is not the
    document's (no ``state``)."""

    processed: bool = False


@dataclass(frozen=True)
class RawBody:
    """Answer with exactly ``body``, ``headers`` and ``status``: anything the other faults do not
    cover, e.g. a gzip bomb (``{"content-encoding": "gzip"}``) or a lying ``Content-Length``.

    A ``Content-Length`` header is added unless ``headers`` has one.
    """

    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    status: int = 200
    processed: bool = False


@dataclass(frozen=True)
class ConnectRefused:
    """Refuse the connection: the gateway refuses it before reading the request, so nothing is
    recorded in ``gateway.requests``; it is counted in ``gateway.refused`` instead.

    Through :meth:`FakeGateway.transport` the client gets ``httpx.ConnectError``. An app served
    over a real socket has already accepted the connection; there the fault drops it without
    reading the body or carrying anything out, which the client sees as a dropped connection
    (``httpx.RemoteProtocolError``), not as a refusal.
    """

    processed: ClassVar[bool] = False


Fault = (
    Latency
    | DropAfterRead
    | TruncatedBody
    | DataLength
    | HTTPErrorStatus
    | ErrorState
    | HTMLPage
    | EmptyBody
    | WrongShape
    | RawBody
    | ConnectRefused
)
"""Any of the injectable faults."""


def applies_to(fault: Fault, endpoint: Endpoint) -> bool:
    """Whether ``fault`` can spoil a request to ``endpoint`` (a balance has no ``data``)."""
    return not (isinstance(fault, DataLength) and endpoint == "credit")


class GatewayDisconnect(Exception):
    """Raised by the app to drop the connection: after the request was read and, for
    :class:`DropAfterRead`, carried out.

    :meth:`FakeGateway.transport` turns it into the ``httpx.RemoteProtocolError`` a real dropped
    connection gives; a server such as uvicorn closes the connection on it. ``received`` and
    ``expected`` are the body bytes sent and announced when the response had already started.
    """

    def __init__(self, *, received: int | None = None, expected: int | None = None) -> None:
        super().__init__("the fake gateway dropped the connection")
        self.received = received
        self.expected = expected
