"""An in-process transport to the emulator that fails the way a network does.

``httpx.ASGITransport`` alone lets an app's exception escape into the client and ignores
timeouts. This wrapper makes the in-process path look like a socket to the client:

* a :class:`ConnectRefused` fault raises ``httpx.ConnectError`` before the app sees anything;
* :class:`GatewayDisconnect` from the app becomes ``httpx.RemoteProtocolError``, with the message
  httpx gives for a real dropped connection;
* the request's read timeout is enforced around the app, so a :class:`Latency` fault longer than
  the client's timeout gives ``httpx.ReadTimeout``, after the gateway carried the request out.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

import anyio
import httpx

from ._faults import ConnectRefused, Fault, GatewayDisconnect

if TYPE_CHECKING:
    from ._gateway import FakeGateway

__all__ = ["FakeGatewayTransport"]

# Set by the transport around each call into the app (which runs in the same task): which gateway
# it is, and the fault already drawn for the request, so that the draw happens once, here, where
# a refused connection can still be refused.
IN_PROCESS: ContextVar[tuple[FakeGateway, Fault | None] | None] = ContextVar(
    "mysms_async_fake_gateway_in_process", default=None
)


class FakeGatewayTransport(httpx.AsyncBaseTransport):
    """The transport :meth:`FakeGateway.transport` returns; give it to any ``httpx.AsyncClient``."""

    def __init__(self, gateway: FakeGateway) -> None:
        self._gateway = gateway
        self._asgi = httpx.ASGITransport(app=gateway)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        fault: Fault | None = None
        route = self._gateway._route(request.url.path)
        if route is not None and request.method in ("GET", "POST"):
            fault = self._gateway._next_fault(route[0])
            if isinstance(fault, ConnectRefused):
                self._gateway._count_refused()
                raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        timeouts = request.extensions.get("timeout", {})
        read_timeout: float | None = timeouts.get("read")
        token = IN_PROCESS.set((self._gateway, fault))
        try:
            with anyio.fail_after(read_timeout):
                return await self._asgi.handle_async_request(request)
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
        await self._asgi.aclose()
