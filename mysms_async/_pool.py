"""Connection slots: one single-connection httpx pool per request the client lets into flight.

httpcore's pool walks every connection it holds on each request and on each response close
(``_assign_requests_to_connections``: an idle connection's ``has_expired()`` costs a
``getpeername`` and a ``poll`` syscall, and its idle count is quadratic), so its CPU per request
grows with the pool: at 16 connections a request cost the client 1.6 ms of CPU against 0.9 ms at
4 (see ``benchmarks/README.md``). The client already bounds the requests in flight itself, so
it hands each one a slot of its own: no walk is ever longer than one connection.

A slot is given back only when its request ended cleanly. A plain asyncio ``task.cancel()`` (what
``asyncio.wait_for`` and ``asyncio.timeout`` do) is not stopped by the anyio shield inside
httpcore, so it can cut httpcore's response-close path halfway and leave the connection ACTIVE
for good; handed out again, that slot would fail every later request with ``PoolTimeout``. So a
slot whose request was cancelled or whose stream failed to close is retired (closed before the
next request starts) and a fresh one takes its place: the pool never loses capacity.

"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import Any

import httpx

_ONE_CONNECTION = httpx.Limits(max_connections=1, max_keepalive_connections=1)

_Slot = httpx.AsyncHTTPTransport


class _SlotReturningStream(httpx.AsyncByteStream):
    """The response body; closing it hands the slot back, or retires it if it is suspect."""

    def __init__(self, stream: httpx.AsyncByteStream, pool: SlotPool, slot: _Slot) -> None:
        self._stream = stream
        self._pool = pool
        self._slot: _Slot | None = slot
        self._suspect = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                yield chunk
        except BaseException:
            self._suspect = True
            raise

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        except BaseException:
            self._suspect = True
            raise
        finally:
            slot, self._slot = self._slot, None
            if slot is not None:
                if self._suspect:
                    self._pool._retire(slot)
                else:
                    self._pool._give_back(slot)


class SlotPool(httpx.AsyncBaseTransport):
    """Up to ``slots`` single-connection transports, made on first need, sharing one TLS context.

    More requests in flight than slots is not an error: another slot is made, so a caller that
    shares the client's ``httpx`` pool in some unforeseen way is slowed, never refused.
    """

    def __init__(
        self, slots: int, *, verify: ssl.SSLContext | bool = True, proxy: str | None = None
    ) -> None:
        self._slots = slots
        self._verify = verify
        self._proxy = proxy
        self._ssl_context: ssl.SSLContext | None = None
        self._all: list[_Slot] = []
        self._free: list[_Slot] = []
        self._retired: list[_Slot] = []

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """One context for every slot: building one costs tens of milliseconds."""
        if self._ssl_context is None:
            if isinstance(self._verify, ssl.SSLContext):
                self._ssl_context = self._verify
            else:
                self._ssl_context = httpx.create_ssl_context(verify=self._verify)
        return self._ssl_context

    @property
    def connections(self) -> list[Any]:
        """Every open connection of every slot, retired ones included (tests, diagnostics)."""
        return [c for slot in (*self._all, *self._retired) for c in slot._pool.connections]

    def _take(self) -> _Slot:
        if self._free:
            return self._free.pop()
        slot = httpx.AsyncHTTPTransport(
            verify=self.ssl_context, limits=_ONE_CONNECTION, proxy=self._proxy
        )
        self._all.append(slot)
        return slot

    def _give_back(self, slot: _Slot) -> None:
        self._free.append(slot)

    def _retire(self, slot: _Slot) -> None:
        """Never hand this slot out again; it is closed before the next request starts."""
        if slot in self._all:
            self._all.remove(slot)
            self._retired.append(slot)

    async def _close_retired(self) -> None:
        while self._retired:
            slot = self._retired[-1]
            await slot.aclose()
            if self._retired and self._retired[-1] is slot:
                self._retired.pop()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._retired:
            await self._close_retired()
        slot = self._take()
        try:
            response = await slot.handle_async_request(request)
        except Exception:
            # httpcore closed or kept the connection cleanly: the slot is sound.
            self._give_back(slot)
            raise
        except BaseException:
            # Cancelled somewhere inside httpcore: its connection's state cannot be trusted.
            self._retire(slot)
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_SlotReturningStream(response.stream, self, slot),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        slots, self._all = [*self._all, *self._retired], []
        self._retired = []
        self._free.clear()
        for slot in slots:
            await slot.aclose()
