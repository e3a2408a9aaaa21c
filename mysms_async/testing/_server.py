"""Serving the emulator over a real loopback socket, with uvicorn in a background thread.

A thread (rather than a task in the test's loop) keeps this usable from sync tests, from asyncio
and from trio alike. The socket is bound here, before uvicorn starts, so that the port is known
even when the caller asked for port 0.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from ._asgi import App
from ._faults import GatewayDisconnect

__all__ = ["listening_socket", "serve"]

_START_TIMEOUT: Final = 10.0
_STOP_TIMEOUT: Final = 10.0


class _QuietDisconnects(logging.Filter):
    """Keep uvicorn from logging a traceback for every connection the emulator drops on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], GatewayDisconnect))


def listening_socket(host: str, port: int) -> socket.socket:
    """The socket both :meth:`FakeGateway.serve` and ``mysms emulator`` hand to uvicorn, bound
    to ``host:port`` (port 0 picks a free one), not yet listening.

    It is created with ``IPPROTO_TCP``, not 0: asyncio turns Nagle off only on connections whose
    socket says it is TCP, and with Nagle on every answer on a kept-alive connection waits ~40 ms
    for the client's delayed ACK. Raises ``OSError`` if the address cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


@contextmanager
def serve(app: App, host: str, port: int, *, base_path: str, log_level: str) -> Iterator[str]:
    """Run ``app`` under uvicorn on ``host:port`` until the block ends; yield the base URL,
    ``base_path`` on that address."""
    try:
        import uvicorn
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "FakeGateway.serve() needs uvicorn: pip install 'mysms-async[emulator]'"
        ) from exc

    sock = listening_socket(host, port)
    family = sock.family
    bound_port: int = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        http="h11",
        lifespan="off",
        log_config=None,
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    quiet = _QuietDisconnects()
    error_log = logging.getLogger("uvicorn.error")
    error_log.addFilter(quiet)
    thread = threading.Thread(
        target=server.run,
        kwargs={"sockets": [sock]},
        name=f"FakeGateway uvicorn :{bound_port}",
        daemon=True,
    )
    thread.start()
    try:
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start the FakeGateway server")
            time.sleep(0.01)
        shown_host = f"[{host}]" if family == socket.AF_INET6 else host
        yield f"http://{shown_host}:{bound_port}{base_path}"
    finally:
        server.should_exit = True
        thread.join(_STOP_TIMEOUT)
        sock.close()
        error_log.removeFilter(quiet)
