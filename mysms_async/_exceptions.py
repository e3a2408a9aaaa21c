"""The one exception tree of mysms-async.

::

    MySMSError                              every one has ``.results`` (see below)
    ├── ValidationError (also ValueError)   bad input, found before any I/O
    ├── ConfigurationError                  from_env(): a variable missing or unusable
    │   └── BaseURLError (also ResponseError) HTTP 404/405: no gateway endpoint at base_url;
    │                                       nothing was executed (a send: not sent)
    ├── InputError                          the caller's message iterable raised (``__cause__``)
    ├── ClientClosedError (also RuntimeError) the client was used after aclose()
    ├── WrongEventLoopError (also RuntimeError) the client was used from a second event loop
    ├── AuthError                           request state -1
    ├── GatewayError                        request state -50/-51/-52 (status/balance: any other
    │                                       non-zero one; on a send that is DeliveryUnknownError)
    ├── ResponseError                       non-200 answer, or a body not of the documented shape
    ├── TransportError                      the network failed before an answer arrived
    │   └── DeliveryUnknownError            a send that may have reached the gateway
    └── MessageRejectedError                raised by ``result.raise_for_state()``

Lower-level errors (httpx, msgspec, expat) are translated at one boundary and never chained
as ``__cause__``: httpx's errors carry the request, whose URL holds the password on GET. The
cause's type and its redacted message are kept as ``.detail`` instead.

An error raised out of ``send_many``, ``iter_send`` or ``stream_send`` after input was read
carries ``.results``: the ``SendResult`` of every message read (``send_many``) or of every
message read and not yet yielded (the streams), in input order. Elsewhere ``.results`` is empty.

Warnings, all ``MySMSWarning`` (a ``UserWarning``): ``InsecureURLWarning`` when the password would
travel in clear; ``CredentialsInURLWarning`` when HTTP tracing would record it from a GET's URL.

Of the package's own modules this one imports only :mod:`._codes`, a leaf that imports nothing
of the package, to name request and message states. The models import this module, not the
reverse, so messages and results appear here as plain objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._codes import MessageState, RequestState, request_state


class MySMSWarning(UserWarning):
    """Base class of the warnings this library issues."""


class InsecureURLWarning(MySMSWarning):
    """The base URL is plain http:// to a host that is not local: the password travels in clear."""


class CredentialsInURLWarning(MySMSWarning):
    """``http_method="GET"`` while OpenTelemetry HTTP instrumentation (httpx or aiohttp-client)
    is active: it records every request's full URL, and a GET's query holds the password. Use
    the default ``http_method="POST"``, which keeps it in the body."""


class MySMSError(Exception):
    """Base class of every error this library raises on purpose."""

    #: The outcomes a bulk run had when it stopped (a list of ``SendResult``); else empty.
    results: list[Any]

    def __init__(self, *args: object) -> None:
        self.results = []
        super().__init__(*args)


class ValidationError(MySMSError, ValueError):
    """Input that breaks a field rule; raised before any request is made."""

    def __init__(self, field: str, rule: str, value: object = None) -> None:
        self.field = field
        self.rule = rule
        self.value = value
        super().__init__(f"{field}: {rule}")


class ConfigurationError(MySMSError):
    """``from_env()`` found a variable missing or unusable; ``.variable`` names it."""

    def __init__(self, message: str, *, variable: str) -> None:
        self.variable = variable
        super().__init__(message)


class InputError(MySMSError):
    """Reading the caller's messages raised; the original exception is the ``__cause__``.

    The run stopped reading, let the requests already sent finish, and kept their outcomes in
    ``.results``: the messages before the failure were not lost with it.
    """


class ClientClosedError(MySMSError, RuntimeError):
    """The client was used after ``aclose()``; a closed httpx client cannot be reopened."""


class WrongEventLoopError(MySMSError, RuntimeError):
    """The client is bound to the event loop (and thread) it first did I/O in.

    Its connections belong to that loop; used from another one they fail late (``Event loop is
    closed``) or hang. Create one client per ``asyncio.run()`` instead.
    """


class AuthError(MySMSError):
    """The gateway refused the username or password (request state -1)."""

    def __init__(self, message: str = "authorisation failed (request state -1)") -> None:
        self.state: RequestState = RequestState.AUTH_FAILED
        super().__init__(message)


class GatewayError(MySMSError):
    """The gateway answered with a non-zero request state other than -1.

    ``.state`` is that state: a :class:`RequestState` member for a documented code, the plain
    int for one the document does not list.
    """

    def __init__(self, state: int, message: str | None = None) -> None:
        self.state: RequestState | int = request_state(state)
        super().__init__(message or f"gateway error: request state {int(state)}")


class ResponseError(MySMSError):
    """The answer was not HTTP 200, or its body was not of the documented shape."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status_code = status_code
        self.retry_after = retry_after
        super().__init__(message)


class BaseURLError(ConfigurationError, ResponseError):
    """HTTP 404 or 405: the request reached no endpoint of the gateway, so nothing was executed.

    A base URL with a wrong path answers so on every endpoint; a send was not sent (it is never
    ``DeliveryUnknownError``), and a bulk run stops at the first one. ``.status_code`` is the
    HTTP status, ``.variable`` the variable that sets the base URL (``MYSMS_BASE_URL``).
    """

    def __init__(self, message: str, *, status_code: int) -> None:
        self.variable = "MYSMS_BASE_URL"
        self.status_code = status_code
        self.retry_after: float | None = None
        MySMSError.__init__(self, message)


class TransportError(MySMSError):
    """The network failed: connection refused, a timeout, a reset."""

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        self.detail = detail
        super().__init__(message if detail is None else f"{message} ({detail})")


class DeliveryUnknownError(TransportError):
    """A send whose request may have reached the gateway, but whose outcome is unknown.

    The messages may have been accepted and may be delivered. Resending them risks a duplicate
    SMS, which costs money and annoys a real person, so the client never does it on its own:
    check with the recipient, or resend deliberately.
    """

    def __init__(
        self,
        message: str,
        *,
        messages: Sequence[Any],
        detail: str | None = None,
        status_code: int | None = None,
    ) -> None:
        #: The ``Message`` objects whose delivery is unknown.
        self.messages: tuple[Any, ...] = tuple(messages)
        self.status_code = status_code
        super().__init__(message, detail=detail)


class MessageRejectedError(MySMSError):
    """The gateway refused a message (a negative message state)."""

    def __init__(self, result: object, state: int) -> None:
        self.result = result
        self.state = state
        super().__init__(f"message rejected by the gateway: message state {_state_name(state)}")


def _state_name(state: int) -> str:
    try:
        return f"{state} ({MessageState(state).name})"
    except ValueError:
        return str(state)
