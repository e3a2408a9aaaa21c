"""The fault matrix over a real loopback port: uvicorn serves the emulator, httpx and httpcore
talk TCP, so the timeouts, drops and truncations are the network's own.

Every fault for four combinations (send/json/POST, send/xml/GET, status/xml/GET,
balance/json/GET), with every logger at DEBUG (httpcore and uvicorn included, which only speak
over a real socket) and the password checked for in logs, errors, results and the client. GET
is where the password travels in the URL, hence three of the four.

Over a socket the emulator's ``ConnectRefused`` accepts the connection and drops it before
reading the request: that is the "connection dropped before the gateway read the request" case,
and since the client cannot tell it apart from a drop after reading, a send is
``DeliveryUnknownError`` there. A refused connect proper is a closed port (the last test).
"""

from __future__ import annotations

import logging
import socket

import anyio
import pytest
from fault_cases import (
    ATTEMPTS,
    CASES,
    DESTINATION,
    SOCKET_SHORT_TIMEOUT,
    Case,
    Fmt,
    Method,
    Op,
    assert_no_secret,
    debug_everything,
    make_client,
    render_error,
    render_logs,
    run_case,
)

from mysms_async import DeliveryUnknownError, TransportError
from mysms_async.testing import FakeGateway

COMBINATIONS: tuple[tuple[Op, Fmt, Method], ...] = (
    ("send", "json", "POST"),
    ("send", "xml", "GET"),
    ("status", "xml", "GET"),
    ("balance", "json", "GET"),
)


@pytest.mark.parametrize(
    ("op", "fmt", "method", "case"),
    [
        pytest.param(op, fmt, method, case, id=f"{op}-{fmt}-{method}-{case.id}")
        for case in CASES
        for op, fmt, method in COMBINATIONS
        if op in case.ops
    ],
)
async def test_fault_over_a_socket(
    op: Op,
    fmt: Fmt,
    method: Method,
    case: Case,
    backend: str,
    served: tuple[FakeGateway, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    debug_everything(caplog)
    gateway, base_url = served
    options = dict(case.client)
    if "timeout" in options:
        options["timeout"] = SOCKET_SHORT_TIMEOUT
    options["backend"] = backend
    async with make_client(gateway, fmt, method, base_url=base_url, **options) as client:
        outcome = await run_case(gateway, client, op, fmt, method, case, over_socket=True)
    assert_no_secret("\n".join(outcome.rendered), "an error, a result or the client")
    assert_no_secret(render_logs(caplog.records), "the logs")


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_a_refused_connect_is_retried_even_for_a_send(
    method: Method, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing listens: the request provably never left, so even a send is retried, and the
    final error is a plain ``TransportError``, not ``DeliveryUnknownError``."""
    debug_everything(caplog)
    base_url = f"http://127.0.0.1:{_closed_port()}/rest/sms/"
    gateway = FakeGateway()  # unused: make_client needs one only for in-process clients
    async with make_client(gateway, "json", method, base_url=base_url, backend=backend) as client:
        with anyio.fail_after(5):
            with pytest.raises(TransportError) as caught:
                await client.send(DESTINATION, "nobody home")
    assert type(caught.value) is TransportError
    assert not isinstance(caught.value, DeliveryUnknownError)
    retries = [
        r for r in caplog.records if r.name == "mysms_async" and r.getMessage().startswith("retry")
    ]
    assert len(retries) == ATTEMPTS - 1
    assert_no_secret(render_error(caught.value), "the error")
    assert_no_secret(render_logs(caplog.records), "the logs")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
