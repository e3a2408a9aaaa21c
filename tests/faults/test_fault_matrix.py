"""The fault matrix in-process: operation x format x method x every fault the emulator injects.

Each case asserts the typed error or result, how many requests reached the emulator (and how many
connections it refused), how many messages it accepted, that nothing is leaked, and that the same
client works once the fault is gone. Every case runs with every logger at DEBUG and the password
of ``fault_cases.PASSWORD``: the secrets check of the whole matrix costs nothing extra.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import anyio
import pytest
from fault_cases import (
    ATTEMPTS,
    CASES,
    DESTINATION,
    Case,
    Fmt,
    Method,
    Op,
    assert_no_secret,
    billion_laughs,
    debug_everything,
    external_entity,
    gzip_bomb,
    make_client,
    make_gateway,
    matrix,
    render_logs,
    run_case,
)

from mysms_async import (
    DeliveryUnknownError,
    Message,
    ResponseError,
)
from mysms_async.testing import DataLength, HTTPErrorStatus, RawBody


@pytest.mark.parametrize(("op", "fmt", "method", "case"), matrix())
async def test_fault(
    op: Op, fmt: Fmt, method: Method, case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    debug_everything(caplog)
    gateway = make_gateway()
    async with make_client(gateway, fmt, method, **case.client) as client:
        outcome = await run_case(gateway, client, op, fmt, method, case)
    assert_no_secret("\n".join(outcome.rendered), "an error, a result or the client")
    assert_no_secret(render_logs(caplog.records), "the logs")


def test_the_matrix_covers_every_fault_kind() -> None:
    """324 cases: 3 operations x 2 formats x 2 methods x 28 faults, less what cannot apply (a
    balance has no ``data``, so no data-length fault and no message state: 3 x 4 cases)."""
    assert len(CASES) == 28
    assert len(matrix()) == 3 * 2 * 2 * 28 - 3 * 2 * 2


# --- data one entry short or long, in a 2-message POST ----------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("delta", [-1, +1])
async def test_data_length_in_a_batch_send(fmt: Fmt, delta: int) -> None:
    gateway = make_gateway()
    messages = [Message(DESTINATION, f"batch {fmt} {delta} {i}") for i in range(2)]
    async with make_client(gateway, fmt, "POST") as client:
        gateway.inject(DataLength(delta), endpoint="send", times=None)
        results = await client.send_many(messages)
        gateway.clear_faults()
        assert [r.message for r in results] == messages
        for result in results:
            # Both were accepted, but the answer cannot say which id is whose: unknown, not lost.
            assert isinstance(result.error, DeliveryUnknownError)
            assert result.error.messages == tuple(messages)
            assert result.id is None and not result.ok
        assert len(gateway.requests) == 1
        assert sorted(m.text for m in gateway.messages.values()) == [m.text for m in messages]
        assert (await client.send(DESTINATION, "after")).ok


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("delta", [-1, +1])
async def test_data_length_in_a_batch_status(fmt: Fmt, delta: int) -> None:
    gateway = make_gateway()
    async with make_client(gateway, fmt, "POST") as client:
        sent = await client.send_many([Message(DESTINATION, f"s{i}") for i in range(2)])
        ids = [r.id for r in sent if r.id is not None]
        assert len(ids) == 2
        before = len(gateway.requests)
        gateway.inject(DataLength(delta), endpoint="status", times=None)
        results = await client.status_many(ids)
        gateway.clear_faults()
        assert [r.requested_id for r in results] == ids
        for result in results:
            assert type(result.error) is ResponseError and result.error.status_code == 200
        # A shape error is not retried, even for an idempotent request.
        assert len(gateway.requests) - before == 1
        assert [r.ok for r in await client.status_many(ids)] == [True, True]


# --- Retry-After ------------------------------------------------------------------------------


async def test_a_retry_after_is_waited_for_even_with_backoff_off() -> None:
    gateway = make_gateway()
    async with make_client(gateway, "json", "POST", max_retries=1) as client:
        gateway.inject(HTTPErrorStatus(429, retry_after=1), endpoint="send")
        started = anyio.current_time()
        result = await client.send(DESTINATION, "throttled once")
        elapsed = anyio.current_time() - started
    assert result.ok
    assert elapsed >= 1.0
    assert len(gateway.requests) == 2
    assert [m.text for m in gateway.messages.values()] == ["throttled once"]


async def test_a_retry_after_longer_than_a_caller_would_wait_is_raised_at_once() -> None:
    gateway = make_gateway()
    async with make_client(gateway, "xml", "GET") as client:
        gateway.inject(HTTPErrorStatus(503, retry_after=3600), endpoint="credit", times=None)
        with anyio.fail_after(2):
            with pytest.raises(ResponseError) as caught:
                await client.balance()
        gateway.clear_faults()
        assert caught.value.status_code == 503 and caught.value.retry_after == 3600
        assert len(gateway.requests) == 1
        assert (await client.balance()).amount > 0


async def test_retries_stop_at_max_retries() -> None:
    gateway = make_gateway()
    async with make_client(gateway, "json", "GET") as client:
        gateway.inject(HTTPErrorStatus(503), endpoint="credit", times=ATTEMPTS - 1)
        assert (await client.balance()).amount > 0  # the last permitted attempt succeeds
    assert len(gateway.requests) == ATTEMPTS


# --- the gzip bomb: fast and bounded ----------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_a_gzip_bomb_is_refused_fast_with_bounded_memory(fmt: Fmt) -> None:
    bomb = gzip_bomb()  # made before measuring
    gateway = make_gateway()
    async with make_client(gateway, fmt, "POST") as client:
        gateway.inject(RawBody(bomb, headers={"content-encoding": "gzip"}), endpoint="credit")
        tracemalloc.start()
        started = anyio.current_time()
        try:
            with pytest.raises(ResponseError, match="max_response_bytes"):
                await client.balance()
            elapsed = anyio.current_time() - started
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert elapsed < 2.0
        # The default cap is 4 MiB; 50 MB inflated would show here.
        assert peak < 16 * 1024 * 1024
        assert len(gateway.requests) == 1
        assert (await client.balance()).amount > 0


# --- XML declarations the byte-level check cannot see -------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("build", [billion_laughs, external_entity], ids=["bomb", "external"])
@pytest.mark.parametrize(("op", "method"), [("status", "POST"), ("balance", "GET")])
async def test_an_xml_entity_declaration_in_utf16_is_refused_too(
    op: Op, method: Method, build: Callable[[Op, Method], bytes], encoding: str
) -> None:
    """The decoder looks for ``<!DOCTYPE`` in the raw bytes; in UTF-16 that byte pattern is not
    there, so the parser itself must refuse the declarations."""
    body = build(op, method).decode().encode(encoding)
    gateway = make_gateway()
    async with make_client(gateway, "xml", method) as client:
        sent = await client.send(DESTINATION, "utf-16")
        assert sent.id is not None
        before = len(gateway.requests)
        endpoint = "status" if op == "status" else "credit"
        gateway.inject(
            RawBody(body, headers={"content-type": "application/xml"}), endpoint=endpoint
        )
        with pytest.raises(ResponseError) as caught:
            await (client.status(sent.id) if op == "status" else client.balance())
        assert type(caught.value) is ResponseError and caught.value.status_code == 200
        assert len(gateway.requests) - before == 1
        assert (await client.balance()).amount > 0
