"""A what-if for the client: one single-connection pool per request in flight.

httpcore's pool walks every connection on each request and on each response close
(``_assign_requests_to_connections``: ``has_expired()`` polls idle sockets, and a quadratic
``is_idle()`` count), so its CPU per request grows with the pool. The client already bounds the
requests in flight itself; this transport gives each of those slots its own pool of one
connection, so no walk is longer than one. It is injected through the client's public
``transport=`` argument: the benchmark shows what the change would buy without touching the
client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx


class _ReleasingStream(httpx.AsyncByteStream):
    """The response body; closing it hands the slot back."""

    def __init__(self, stream: httpx.AsyncByteStream, release: _Release) -> None:
        self._stream = stream
        self._release = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            self._release()


class _Release:
    """Returns one slot to the free list, once."""

    def __init__(self, free: list[httpx.AsyncHTTPTransport], slot: httpx.AsyncHTTPTransport):
        self._free = free
        self._slot: httpx.AsyncHTTPTransport | None = slot

    def __call__(self) -> None:
        if self._slot is not None:
            self._free.append(self._slot)
            self._slot = None


class SlotTransport(httpx.AsyncBaseTransport):
    """``slots`` single-connection transports; the caller keeps at most ``slots`` in flight."""

    def __init__(self, slots: int) -> None:
        one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        self._all = [httpx.AsyncHTTPTransport(limits=one) for _ in range(slots)]
        self._free = list(self._all)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self._free:
            raise RuntimeError("more requests in flight than slots")
        slot = self._free.pop()
        release = _Release(self._free, slot)
        try:
            response = await slot.handle_async_request(request)
        except BaseException:
            release()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_ReleasingStream(response.stream, release),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        for slot in self._all:
            await slot.aclose()
