"""An in-process transport to the emulator that fails the way a network does.

``httpx.ASGITransport`` alone lets an app's exception escape into the client and ignores
timeouts. This wrapper makes the in-process path look like a socket to the client:

* :class:`._asgi.Refused` from the app (a :class:`ConnectRefused` fault, raised before the app
  read the body or recorded the request) becomes ``httpx.ConnectError``;
* :class:`GatewayDisconnect` from the app becomes ``httpx.RemoteProtocolError``, with the message
  httpx gives for a real dropped connection;
* the request's read timeout is enforced around the app, so a :class:`Latency` fault longer than
  the client's timeout gives ``httpx.ReadTimeout``, after the gateway carried the request out.

It knows the app only as an ASGI callable: the gateway imports this module, never the reverse.
The app learns that it is called in-process from :data:`IN_PROCESS`, and answers with exceptions
this module translates.
"""

from __future__ import annotations

from contextvars import ContextVar

import anyio
import httpx

from ._asgi import App, Refused
from ._faults import GatewayDisconnect

__all__ = ["IN_PROCESS", "FakeGatewayTransport"]

#: The app this transport is calling into, set around each call (the app runs in the same task):
#: an app that finds itself here refuses and drops connections by raising, as a socket cannot.
IN_PROCESS: ContextVar[App | None] = ContextVar("mysms_async_fake_gateway_in_process", default=None)


class FakeGatewayTransport(httpx.AsyncBaseTransport):
    """The transport :meth:`FakeGateway.transport` returns; give it to any ``httpx.AsyncClient``."""

    def __init__(self, gateway: App) -> None:
        self._gateway = gateway
        self._asgi = httpx.ASGITransport(app=gateway)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer one request from the in-process gateway, as httpx's transports do.

        Raises ``httpx.ReadTimeout`` when the gateway's answer takes longer than the request's
        read timeout, and ``httpx.ConnectError`` for a refused-connection fault.
        """
        timeouts = request.extensions.get("timeout", {})
        read_timeout: float | None = timeouts.get("read")
        token = IN_PROCESS.set(self._gateway)
        try:
            with anyio.fail_after(read_timeout):
                return await self._asgi.handle_async_request(request)
        except Refused:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request) from None
        except TimeoutError:
            raise httpx.ReadTimeout("timed out", request=request) from None
        except GatewayDisconnect as exc:
            if exc.expected is None:
                message = "Server disconnected without sending a response."
            else:
                message = (
                    "peer closed connection without sending complete message body: "
                    f"received {exc.received} bytes, expected {exc.expected}"
                )
            raise httpx.RemoteProtocolError(message, request=request) from exc
        finally:
            IN_PROCESS.reset(token)

    async def aclose(self) -> None:
        """Release the transport (the gateway itself keeps its state)."""
        await self._asgi.aclose()
