"""Injected faults: what the client sees, and whether the request was carried out."""

from __future__ import annotations

import gzip
import time
from decimal import Decimal

import httpx
import pytest
from emulator_wire import (
    BASE,
    credit,
    message,
    post,
    read,
    send,
    send_json,
    send_one,
    status_json,
    status_xml,
)

from mysms_async.testing import (
    DEFAULT_RANDOM_FAULTS,
    DEMO_BALANCE,
    DEMO_USERNAME,
    ConnectRefused,
    DataLength,
    DropAfterRead,
    EmptyBody,
    ErrorState,
    FakeGateway,
    FakeGatewayTransport,
    GatewayDisconnect,
    HTMLPage,
    HTTPErrorStatus,
    Latency,
    RawBody,
    TruncatedBody,
    WrongShape,
)

ONE_PART = DEMO_BALANCE - Decimal("1.50")


async def _post_send(http: httpx.AsyncClient, *texts: str) -> httpx.Response:
    return await post(http, "send/json", send_json(*(message(t) for t in texts)))


def _processed(gateway: FakeGateway, count: int = 1) -> bool:
    """Whether the last send was carried out: ``count`` messages accepted and charged."""
    done = len(gateway.messages) == count
    assert gateway.balance_of(DEMO_USERNAME) == (
        DEMO_BALANCE - Decimal("1.50") * count if done else DEMO_BALANCE
    )
    return done


def test_each_fault_says_whether_it_is_processed() -> None:
    assert Latency(1).processed
    assert DropAfterRead().processed
    assert TruncatedBody().processed
    assert DataLength(1).processed
    assert not HTTPErrorStatus(503).processed
    assert not ErrorState(-50).processed
    assert not ConnectRefused().processed
    assert not HTMLPage().processed
    assert HTMLPage(processed=True).processed
    assert not EmptyBody().processed
    assert not WrongShape().processed
    assert not RawBody(b"").processed


def test_fault_values_are_checked() -> None:
    with pytest.raises(ValueError, match="negative"):
        Latency(-1)
    with pytest.raises(ValueError, match="0"):
        DataLength(0)
    with pytest.raises(ValueError, match="400-599"):
        HTTPErrorStatus(200)


async def test_latency_answers_late_after_processing(
    http: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    gateway.inject(Latency(0.05))
    started = time.perf_counter()
    response = await _post_send(http, "Hi")
    assert time.perf_counter() - started >= 0.05
    assert read(response).data is not None
    assert _processed(gateway)
    assert gateway.requests[-1].fault == Latency(0.05)


async def test_latency_beyond_the_read_timeout_is_a_read_timeout_after_processing(
    gateway: FakeGateway,
) -> None:
    async with httpx.AsyncClient(
        transport=gateway.transport(), base_url=BASE, timeout=httpx.Timeout(5.0, read=0.02)
    ) as http:
        gateway.inject(Latency(5))
        started = time.perf_counter()
        with pytest.raises(httpx.ReadTimeout):
            await _post_send(http, "Hi")
        assert time.perf_counter() - started < 1
    assert _processed(gateway)


@pytest.mark.parametrize(
    ("fault", "retry_after"),
    [
        (HTTPErrorStatus(503), None),
        (HTTPErrorStatus(500), None),
        (HTTPErrorStatus(502), None),
        (HTTPErrorStatus(429, retry_after=7), "7"),
        (HTTPErrorStatus(503, retry_after=2.0), "2"),
        (HTTPErrorStatus(503, retry_after=1.5), "1.5"),
        (
            HTTPErrorStatus(503, retry_after="Wed, 21 Oct 2015 07:28:00 GMT"),
            "Wed, 21 Oct 2015 07:28:00 GMT",
        ),
    ],
)
async def test_http_status_refuses_before_processing(
    http: httpx.AsyncClient, gateway: FakeGateway, fault: HTTPErrorStatus, retry_after: str | None
) -> None:
    gateway.inject(fault)
    response = await _post_send(http, "Hi")
    assert response.status_code == fault.code
    assert response.headers.get("retry-after") == retry_after
    assert response.text.startswith(str(fault.code))
    assert not _processed(gateway)
    record = gateway.requests[-1]
    assert (record.status_code, record.fault) == (fault.code, fault)
    assert record.messages[0].text == "Hi"  # parsed, though not carried out


@pytest.mark.parametrize("code", [-50, -51, -52])
async def test_request_state_refuses_with_http_200(
    http: httpx.AsyncClient, gateway: FakeGateway, code: int
) -> None:
    gateway.inject(ErrorState(code))
    response = await _post_send(http, "Hi")
    assert response.status_code == 200
    assert response.content == f'{{"state":"{code}"}}'.encode()
    assert not _processed(gateway)
    gateway.inject(ErrorState(code))
    xml = await post(http, "status/xml", status_xml("x"))
    assert xml.text.endswith(f"<state>{code}</state>\n</checkSMS >")


async def test_drop_after_read_processes_then_disconnects(
    http: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    gateway.inject(DropAfterRead(), endpoint="send")
    with pytest.raises(httpx.RemoteProtocolError, match="Server disconnected without sending"):
        await _post_send(http, "Hi", "there")
    assert _processed(gateway, 2)
    record = gateway.requests[-1]
    assert (record.status_code, record.fault) == (None, DropAfterRead())
    # The next request is answered normally.
    assert (await credit(http, "GET", "json")).balance == "997,0000"


async def test_plain_asgi_transport_lets_the_disconnect_escape(gateway: FakeGateway) -> None:
    gateway.inject(DropAfterRead())
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        with pytest.raises(GatewayDisconnect):
            await _post_send(http, "Hi")
    assert _processed(gateway)


async def test_truncated_body_is_the_first_half_of_the_answer(
    http: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    gateway.inject(TruncatedBody())
    response = await _post_send(http, "Hi")
    assert _processed(gateway)
    (message_id,) = gateway.messages
    full = b'{"state":"0","data":[{"id":"' + message_id.encode() + b'","state":"2"}]}'
    assert response.status_code == 200
    assert response.content == full[: len(full) // 2]
    assert response.headers["content-length"] == str(len(full) // 2)


async def test_truncated_body_with_close_breaks_the_connection(
    http: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    gateway.inject(TruncatedBody(close=True))
    with pytest.raises(httpx.RemoteProtocolError, match=r"received 40 bytes, expected 80"):
        await _post_send(http, "Hi")
    assert _processed(gateway)


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_data_length_changes_the_entry_count_after_processing(
    http: httpx.AsyncClient, gateway: FakeGateway, fmt: str
) -> None:
    gateway.inject(DataLength(-1))
    short = await send(http, "POST", fmt, message("a"), message("b"))  # type: ignore[arg-type]
    assert short.data is not None
    assert len(short.data) == 1
    assert _processed(gateway, 2)
    first, second = gateway.messages
    assert short.data == [(first, "2")]

    gateway.inject(DataLength(2), endpoint="status")
    body = status_xml(first) if fmt == "xml" else status_json(first)
    data = read(await post(http, f"status/{fmt}", body)).data
    assert data is not None
    assert len(data) == 3
    assert data[0] == (first, "2")
    assert {state for _, state in data[1:]} == {"2"}
    extra = {i for i, _ in data[1:]}
    assert len(extra) == 2
    assert not extra & {first, second}
    assert _processed(gateway, 2)


async def test_data_length_waits_for_a_request_with_data(
    http: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    gateway.inject(DataLength(1))
    assert (await credit(http, "POST", "json")).balance == "1000,0000"
    assert gateway.pending_faults == (DataLength(1),)
    answer = await send(http, "GET", "json", message())
    assert answer.data is not None
    assert len(answer.data) == 2
    assert not gateway.pending_faults


async def test_html_page(http: httpx.AsyncClient, gateway: FakeGateway) -> None:
    gateway.inject(HTMLPage())
    response = await _post_send(http, "Hi")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text.startswith("<!DOCTYPE html>")
    assert not _processed(gateway)
    gateway.inject(HTMLPage(status=502, processed=True))
    response = await _post_send(http, "Hi")
    assert response.status_code == 502
    assert _processed(gateway)


async def test_empty_body(http: httpx.AsyncClient, gateway: FakeGateway) -> None:
    gateway.inject(EmptyBody())
    response = await _post_send(http, "Hi")
    assert (response.status_code, response.content) == (200, b"")
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["content-length"] == "0"
    assert not _processed(gateway)


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_wrong_shape(http: httpx.AsyncClient, gateway: FakeGateway, fmt: str) -> None:
    gateway.inject(WrongShape())
    response = await http.get(f"credit/{fmt}", params={"u": "demo", "p": "demo-password"})
    assert response.status_code == 200
    assert response.headers["content-type"] == f"application/{fmt}; charset=utf-8"
    assert b"state" not in response.content
    assert b"ok" in response.content


async def test_raw_body_with_custom_headers(http: httpx.AsyncClient, gateway: FakeGateway) -> None:
    bomb = gzip.compress(b"0" * 1_000_000)
    gateway.inject(
        RawBody(bomb, {"content-type": "application/json", "content-encoding": "gzip"}, status=200)
    )
    response = await _post_send(http, "Hi")
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["content-length"] == str(len(bomb))
    assert len(bomb) < 2000
    assert response.content == b"0" * 1_000_000  # httpx inflated it
    assert not _processed(gateway)


async def test_raw_body_keeps_a_given_content_length(
    http: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    gateway.inject(
        RawBody(b"abc", {"content-length": "3", "x-custom": "yes"}, status=418, processed=True)
    )
    response = await _post_send(http, "Hi")
    assert (response.status_code, response.content) == (418, b"abc")
    assert response.headers["x-custom"] == "yes"
    assert _processed(gateway)


async def test_connect_refused_never_reaches_the_app(
    http: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    gateway.inject(ConnectRefused())
    with pytest.raises(httpx.ConnectError, match=r"\[Errno 111\] Connection refused"):
        await _post_send(http, "Hi")
    assert gateway.requests == []
    assert gateway.refused == 1
    assert not _processed(gateway)
    await _post_send(http, "Hi")
    assert len(gateway.requests) == 1


async def test_the_transport_needs_only_an_asgi_app() -> None:
    """The in-process transport knows its app as an ASGI callable, not as a ``FakeGateway`` (the
    gateway imports the transport, never the reverse): any app works, and the exceptions an app
    raises in-process mean what they mean for the gateway."""
    from mysms_async.testing._asgi import Answer, Receive, Refused, Scope, Send, respond
    from mysms_async.testing._transport import IN_PROCESS

    seen: list[tuple[str, bool]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope["path"], IN_PROCESS.get() is app))
        if scope["path"] == "/refuse":
            raise Refused()
        if scope["path"] == "/drop":
            raise GatewayDisconnect()
        await respond(send, Answer.text(200, "ok"))

    transport = FakeGatewayTransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as http:
        assert (await http.get("/hello")).text == "ok"
        with pytest.raises(httpx.ConnectError, match=r"\[Errno 111\] Connection refused"):
            await http.get("/refuse")
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            await http.get("/drop")
    assert seen == [("/hello", True), ("/refuse", True), ("/drop", True)]
    assert IN_PROCESS.get() is None


async def test_times_and_endpoint(http: httpx.AsyncClient, gateway: FakeGateway) -> None:
    gateway.inject(HTTPErrorStatus(503), endpoint="credit", times=2)
    assert read(await _post_send(http, "Hi")).state == "0"  # a send is not a credit request
    for _ in range(2):
        assert (await http.get("credit/json", params={"u": "demo", "p": "x"})).status_code == 503
    assert (await http.get("credit/json", params={"u": "demo", "p": "x"})).status_code == 200
    assert gateway.pending_faults == ()


async def test_faults_are_used_in_injection_order(
    http: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    gateway.inject(HTTPErrorStatus(500))
    gateway.inject(HTTPErrorStatus(502))
    assert gateway.pending_faults == (HTTPErrorStatus(500), HTTPErrorStatus(502))
    codes = [(await _post_send(http, "Hi")).status_code for _ in range(3)]
    assert codes == [500, 502, 200]


async def test_forever_until_cleared(http: httpx.AsyncClient, gateway: FakeGateway) -> None:
    gateway.inject(ErrorState(-52), times=None)
    for _ in range(3):
        assert read(await _post_send(http, "Hi")).state == "-52"
    gateway.clear_faults()
    assert read(await _post_send(http, "Hi")).state == "0"


async def test_unknown_paths_do_not_use_faults(
    http: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    gateway.inject(HTTPErrorStatus(503))
    assert (await http.get("nowhere")).status_code == 404
    assert (await http.delete("send/json")).status_code == 405
    assert gateway.pending_faults == (HTTPErrorStatus(503),)


def test_inject_checks_its_arguments(gateway: FakeGateway) -> None:
    with pytest.raises(ValueError, match="endpoint"):
        gateway.inject(HTTPErrorStatus(503), endpoint="balance")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="times"):
        gateway.inject(HTTPErrorStatus(503), times=0)
    with pytest.raises(ValueError, match="rate"):
        gateway.random_faults(rate=2)
    with pytest.raises(ValueError, match="kinds"):
        gateway.random_faults(rate=0.5, kinds=[])


async def _fault_sequence(seed: int, rate: float, count: int) -> list[str]:
    gateway = FakeGateway()
    gateway.random_faults(
        rate, [HTTPErrorStatus(500), ErrorState(-51), ConnectRefused()], seed=seed
    )
    outcomes = []
    async with httpx.AsyncClient(transport=gateway.transport(), base_url=BASE) as http:
        for _ in range(count):
            try:
                response = await http.get("credit/json", params={"u": "demo", "p": "demo-password"})
            except httpx.ConnectError:
                outcomes.append("refused")
            else:
                outcomes.append(
                    f"{response.status_code}:{response.json()['state']}"
                    if response.status_code == 200
                    else str(response.status_code)
                )
    assert outcomes.count("refused") == gateway.refused
    return outcomes


async def test_random_faults_are_seeded_and_follow_the_rate() -> None:
    outcomes = await _fault_sequence(seed=3, rate=0.3, count=300)
    assert outcomes == await _fault_sequence(seed=3, rate=0.3, count=300)
    assert outcomes != await _fault_sequence(seed=4, rate=0.3, count=300)
    faulty = len(outcomes) - outcomes.count("200:0")
    assert 60 <= faulty <= 120
    assert {"500", "200:-51", "refused"} <= set(outcomes)


async def test_random_faults_off_and_per_endpoint(
    http: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    gateway.random_faults(1.0, [HTTPErrorStatus(503)], endpoint="send")
    assert (await _post_send(http, "Hi")).status_code == 503
    assert (await credit(http, "GET", "json")).state == "0"
    gateway.inject(HTTPErrorStatus(500))  # injected faults come first
    assert (await _post_send(http, "Hi")).status_code == 500
    gateway.random_faults(0)
    assert (await _post_send(http, "Hi")).status_code == 200


async def test_default_random_faults_soak(gateway: FakeGateway) -> None:
    assert {type(f) for f in DEFAULT_RANDOM_FAULTS} >= {
        HTTPErrorStatus,
        DropAfterRead,
        ConnectRefused,
    }
    gateway.random_faults(0.5, seed=11)
    errors = 0
    async with httpx.AsyncClient(transport=gateway.transport(), base_url=BASE) as http:
        for _ in range(100):
            try:
                await send_one(http)
            except (httpx.TransportError, AssertionError, ValueError):
                errors += 1
    assert 20 <= errors <= 80
    assert len(gateway.requests) + gateway.refused == 100
    charged = DEMO_BALANCE - gateway.balance_of(DEMO_USERNAME)
    assert charged == Decimal("1.50") * len(gateway.messages)
