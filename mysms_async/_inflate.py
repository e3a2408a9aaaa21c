"""The capped body reader every exchange shares: raw bytes in, at most ``cap`` bytes out.

HTTP libraries inflate gzip without a limit (httpx turned a 200 kB body into 200 MB in a test;
aiohttp's ``auto_decompress`` has no output bound either), so each exchange asks for the raw
stream and feeds it here: each chunk is inflated with ``max_length``, and a bomb stops at the cap.
Only what this reader can inflate is advertised (``ACCEPT_ENCODING``): a caller's client with
brotli installed would otherwise ask for ``br``, which would then be refused here.
"""

from __future__ import annotations

import zlib

from ._exceptions import ResponseError

#: Sent on every request, whatever the HTTP library would advertise on its own.
ACCEPT_ENCODING = "gzip, deflate"


class CappedBody:
    """Collects one answer's body: ``feed`` raw chunks, then ``finish``; ResponseError past cap."""

    __slots__ = ("_cap", "_chunks", "_inflater", "_raw_size", "_size")

    def __init__(self, cap: int, content_encoding: str | None, content_length: str | None) -> None:
        if content_length is not None and content_length.isdigit() and int(content_length) > cap:
            raise too_large(cap)
        self._cap = cap
        self._inflater = _inflater(content_encoding)
        self._chunks: list[bytes] = []
        self._size = 0
        self._raw_size = 0

    def feed(self, chunk: bytes) -> None:
        self._raw_size += len(chunk)
        if self._inflater is not None:
            chunk = self._inflater.feed(chunk, self._cap - self._size + 1)
        self._size += len(chunk)
        if self._size > self._cap or self._raw_size > self._cap:
            raise too_large(self._cap)
        self._chunks.append(chunk)

    def finish(self) -> bytes:
        if self._inflater is not None:
            tail = self._inflater.finish(self._cap - self._size + 1)
            self._size += len(tail)
            if self._size > self._cap:
                raise too_large(self._cap)
            self._chunks.append(tail)
        chunks = self._chunks
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def too_large(cap: int) -> ResponseError:
    return ResponseError(f"answer is larger than max_response_bytes ({cap} bytes)", status_code=200)


class _Inflater:
    """zlib with an output bound per call; ``deflate`` may come with or without its header."""

    def __init__(self, wbits: int) -> None:
        self._wbits = wbits
        self._zlib = zlib.decompressobj(wbits)
        self._started = False

    def feed(self, chunk: bytes, limit: int) -> bytes:
        try:
            out = self._zlib.decompress(chunk, limit)
        except zlib.error:
            if self._started or self._wbits != zlib.MAX_WBITS:
                raise ResponseError(
                    "answer's compressed body is corrupt", status_code=200
                ) from None
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as some servers send
            self._started = True
            return self.feed(chunk, limit)
        self._started = True
        if self._zlib.unconsumed_tail:
            # More output is waiting than the cap allows: stop inflating here.
            raise ResponseError(
                "compressed answer inflates past max_response_bytes", status_code=200
            )
        return out

    def finish(self, limit: int) -> bytes:
        try:
            return self._zlib.flush(max(limit, 1))
        except zlib.error:
            raise ResponseError("answer's compressed body is corrupt", status_code=200) from None


def _inflater(encoding: str | None) -> _Inflater | None:
    if encoding is None:
        return None
    value = encoding.strip().lower()
    if value in ("identity", ""):
        return None
    if value in ("gzip", "x-gzip"):
        return _Inflater(zlib.MAX_WBITS | 16)
    if value == "deflate":
        return _Inflater(zlib.MAX_WBITS)
    raise ResponseError(f"answer uses an unsupported content-encoding {value!r}", status_code=200)
