"""The client uses anyio primitives only: the same calls work under trio.

pytest-asyncio cannot drive trio, so these are plain sync tests that call ``anyio.run(...,
backend="trio")`` and check from inside that trio really is the running library.
"""

from __future__ import annotations

import gzip
import json

import anyio
import httpx
import pytest
import respx
import sniffio

from mysms_async import (
    DeliveryUnknownError,
    Message,
    MessageState,
    MySMSClient,
    TransportError,
)

BASE_URL = "https://my-sms.ru/rest/sms/"
USERNAME = "alice"
PASSWORD = "S3cr3t-p@ss word&more"


def test_send_status_balance_under_trio_with_respx() -> None:
    async def main() -> list[object]:
        assert sniffio.current_async_library() == "trio"
        with respx.mock(base_url=BASE_URL, assert_all_called=False) as gw:
            gw.post("send/json").respond(
                200, json={"state": "0", "data": [{"id": "id-1", "state": "2"}]}
            )
            # A transient failure first, so the retry's sleep runs under trio too.
            status = gw.post("status/json").mock(
                side_effect=[
                    httpx.Response(503),
                    httpx.Response(200, json={"state": "0", "data": [{"id": "id-1", "state": 4}]}),
                ]
            )
            gw.post("credit/json").respond(
                200,
                content=gzip.compress(b'{"state": "0", "balance": "77212,0000"}'),
                headers={"content-encoding": "gzip"},
            )
            async with MySMSClient(
                USERNAME, PASSWORD, sender="MySMS", retry_backoff=0.001
            ) as client:
                sent = await client.send("+7 (911) 222-33-33", "Привет")
                checked = await client.status("id-1")
                balance = await client.balance()
            assert status.call_count == 2
        return [sent, checked, balance]

    sent, checked, balance = anyio.run(main, backend="trio")
    assert sent.id == "id-1"  # type: ignore[attr-defined]
    assert sent.state is MessageState.QUEUED  # type: ignore[attr-defined]
    assert checked.state is MessageState.DELIVERED  # type: ignore[attr-defined]
    assert str(balance.amount) == "77212.0000"  # type: ignore[attr-defined]


def test_bulk_timeouts_and_failures_under_trio_with_a_mock_transport() -> None:
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/status/json"):
            await anyio.sleep(5)  # longer than the attempt's timeout
        if request.url.path.endswith("/credit/json"):
            raise httpx.ConnectError("refused", request=request)
        count = len(json.loads(request.content)["data"])
        data = [{"id": f"id-{n}", "state": "2"} for n in range(count)]
        return httpx.Response(200, json={"state": "0", "data": data})

    async def main() -> None:
        assert sniffio.current_async_library() == "trio"
        async with MySMSClient(
            USERNAME,
            PASSWORD,
            transport=httpx.MockTransport(handler),
            retry_backoff=0,
            timeout=0.05,
            batch_size=2,
            max_concurrency=2,
            max_retries=1,
        ) as client:
            messages = [Message(f"7911222333{n}", f"text {n}") for n in range(5)]
            results = await client.send_many(messages)
            assert [r.message for r in results] == messages
            assert all(r.ok for r in results)
            with pytest.raises(TransportError):
                await client.status("id-1")  # times out under trio's clock, retried once
            with pytest.raises(TransportError) as refused:
                await client.balance()
            assert not isinstance(refused.value, DeliveryUnknownError)

    anyio.run(main, backend="trio")
    paths = [r.url.path for r in seen]
    assert paths.count("/rest/sms/send/json") == 3  # 5 messages in batches of 2
    assert paths.count("/rest/sms/status/json") == 2
    assert paths.count("/rest/sms/credit/json") == 2


def test_stream_send_and_the_loop_guard_under_trio() -> None:
    from mysms_async import WrongEventLoopError
    from mysms_async.testing import FakeGateway

    gateway = FakeGateway()
    client = gateway.client(batch_size=3, max_concurrency=2)
    messages = [Message("79112223333", f"trio {i}") for i in range(20)]

    async def main() -> tuple[int, int]:
        assert sniffio.current_async_library() == "trio"
        taken = 0
        async with client.stream_send(messages) as results:
            async for result in results:
                assert result.ok
                taken += 1
                if taken == 4:
                    break
        return taken, len(results.leftover)

    taken, leftover = anyio.run(main, backend="trio")
    # Leaving early: nothing lost, nothing sent twice.
    assert taken + leftover == len(gateway.messages)
    with pytest.raises(WrongEventLoopError):  # a second trio.run is another loop
        anyio.run(client.balance, backend="trio")
