"""The twelve endpoints: the exact request each one sends, and the document's own sample answers.

send / status / credit x GET / POST x json / xml. The answers below are copied verbatim from
the gateway's document (``gateway-api-ru.txt``), trailing spaces and ``</checkSMS >`` included.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import core_helpers
import httpx
import pytest
import respx
import xmltodict
from core_helpers import PASSWORD, USERNAME

from mysms_async import Balance, Message, MessageState, MySMSClient, SendResult, StatusResult

BASE_URL = "https://my-sms.ru/rest/sms/"
SENDER = "MySMS"
DOC_ID = "e061d23c-34dc-4903-88f0-e6a6f5f3a570"
TEXT = 'Привет, <b>&"мир"\' 👋'

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
XML_CONTENT_TYPE = "application/xml; charset=utf-8"

# The document's sample answers, byte for byte.
DOC_ANSWERS: dict[tuple[str, str, str], bytes] = {
    ("send", "GET", "json"): (
        b'{\n  "state" : "0",\n'
        b'  "data" : [{"id":"e061d23c-34dc-4903-88f0-e6a6f5f3a570", "state":"2"}]\n}\n'
    ),
    ("send", "GET", "xml"): (
        b'<sendSMS xmlns:i="http://www.w3.org/2001/XMLSchema-instance">\n'
        b"  <state>0</state>\n  <data>\n    <message>\n"
        b"      <id>e061d23c-34dc-4903-88f0-e6a6f5f3a570</id>\n      <state>2</state>\n"
        b"    </message>\n  </data>\n</sendSMS>\n"
    ),
    ("send", "POST", "json"): (
        b'{  \n  "state": "0",  \n'
        b'  "data": [{"id": "e061d23c-34dc-4903-88f0-e6a6f5f3a570", "state": "2"}]  \n}\n'
    ),
    ("send", "POST", "xml"): (
        b'<sendSMS xmlns:i="http://www.w3.org/2001/XMLSchema-instance">\n'
        b"  <state>0</state>\n  <data>\n    <message>\n"
        b"      <id>e061d23c-34dc-4903-88f0-e6a6f5f3a570</id>\n      <state>2</state>\n"
        b"    </message>\n  </data>\n</sendSMS>\n"
    ),
    ("status", "GET", "json"): (
        b'{\n  "state" : "0",\n'
        b'  "data" : [{"id": "e061d23c-34dc-4903-88f0-e6a6f5f3a570", "state": "2"}]\n}\n'
    ),
    # The document shows <sendSMS> as the root of the GET status answer.
    ("status", "GET", "xml"): (
        b'<sendSMS xmlns:i="http://www.w3.org/2001/XMLSchema-instance">\n'
        b"  <state>0</state>\n  <data>\n    <message>\n"
        b"      <id>e061d23c-34dc-4903-88f0-e6a6f5f3a570</id>\n      <state>2</state>\n"
        b"    </message>\n  </data>\n</sendSMS>\n"
    ),
    ("status", "POST", "json"): (
        b'{\n  "state":"0",\n'
        b'  "data":[ {"id":"e061d23c-34dc-4903-88f0-e6a6f5f3a570", "state":"2"} ]\n}\n'
    ),
    # <checkSMS> closed as </checkSMS > (with a space), exactly as in the document.
    ("status", "POST", "xml"): (
        b'<checkSMS xmlns:i="http://www.w3.org/2001/XMLSchema-instance">\n'
        b"  <state>0</state>\n  <data>\n    <message>\n"
        b"      <id>e061d23c-34dc-4903-88f0-e6a6f5f3a570</id>\n      <state>2</state>\n"
        b"    </message>\n  </data>\n</checkSMS >\n"
    ),
    ("credit", "GET", "json"): b'{  \n  "state": "0",  \n  "balance": "77212,0000"  \n}\n',
    ("credit", "GET", "xml"): (
        b'<getBalance xmlns:i="http://www.w3.org/2001/XMLSchema-instance">  \n'
        b"  <state>0</state>  \n  <balance>77212,0000</balance>  \n</getBalance>\n"
    ),
    ("credit", "POST", "json"): b'{  \n  "state": "0",  \n  "balance": "77212,0000"  \n}\n',
    ("credit", "POST", "xml"): (
        b'<getBalance xmlns:i="http://www.w3.org/2001/XMLSchema-instance">\n'
        b"  <state>0</state>\n  <balance>77212,0000</balance>\n</getBalance>\n"
    ),
}

ENDPOINTS = [(method, fmt) for method in ("GET", "POST") for fmt in ("json", "xml")]


def make_client(method: str, fmt: str, **kwargs: object) -> MySMSClient:
    """The test account's client (core_helpers) for one endpoint form."""
    return core_helpers.make_client(http_method=method, wire_format=fmt, **kwargs)


def answer(body: bytes, fmt: str) -> httpx.Response:
    content_type = "application/json" if fmt == "json" else "application/xml"
    return httpx.Response(200, content=body, headers={"content-type": content_type})


def mock_route(gw: respx.MockRouter, operation: str, method: str, fmt: str) -> respx.Route:
    route = gw.request(method, f"{operation}/{fmt}")
    route.return_value = answer(DOC_ANSWERS[(operation, method, fmt)], fmt)
    return route


def assert_headers(request: httpx.Request, method: str, fmt: str) -> None:
    if method == "GET":
        assert request.content == b""
        assert "content-type" not in request.headers
        return
    expected = JSON_CONTENT_TYPE if fmt == "json" else XML_CONTENT_TYPE
    assert request.headers["content-type"] == expected
    # Sent whole, with a length: no chunked request bodies.
    assert request.headers["content-length"] == str(len(request.content))
    assert "transfer-encoding" not in request.headers


def assert_url(request: httpx.Request, operation: str, method: str, fmt: str) -> None:
    assert request.method == method
    assert request.url.scheme == "https"
    assert request.url.host == "my-sms.ru"
    assert request.url.path == f"/rest/sms/{operation}/{fmt}"
    if method == "POST":
        assert request.url.query == b""


def parse_xml(content: bytes) -> dict[str, object]:
    return xmltodict.parse(content.decode("utf-8"), strip_whitespace=False)


# ---------------------------------------------------------------------------------------------
# send


@pytest.mark.parametrize(("method", "fmt"), ENDPOINTS)
async def test_send_request_with_every_field_and_the_documents_answer(
    method: str, fmt: str
) -> None:
    when = dt.datetime(2026, 11, 24, 18, 30)
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as gw:
        route = mock_route(gw, "send", method, fmt)
        async with make_client(method, fmt, sender=SENDER) as client:
            result = await client.send("+7 (911) 222-33-33", TEXT, date=when, ttl=10)
        assert gw.calls.call_count == 1  # the router forgets its calls on exit

    assert route.call_count == 1
    request = route.calls.last.request
    assert_url(request, "send", method, fmt)
    assert_headers(request, method, fmt)
    fields = {
        "source": SENDER,
        "destination": "79112223333",
        "text": TEXT,
        "date": "24.11.2026 18:30:00",
        "ttl": "10",
    }
    if method == "GET":
        assert request.url.params.multi_items() == [
            ("u", USERNAME),
            ("p", PASSWORD),
            ("s", SENDER),
            ("d", "79112223333"),
            ("t", TEXT),
            ("date", "24.11.2026 18:30:00"),
            ("ttl", "10"),
        ]
    elif fmt == "json":
        assert json.loads(request.content.decode("utf-8")) == {
            "auth": {"username": USERNAME, "password": PASSWORD},
            "data": [fields],
        }
        # ttl is a decimal string like every other value in the document's bodies.
        assert b'"ttl":"10"' in request.content
    else:
        assert parse_xml(request.content) == {
            "sendSMS": {
                "auth": {"username": USERNAME, "password": PASSWORD},
                "data": {"message": fields},
            }
        }

    assert isinstance(result, SendResult)
    assert result.id == DOC_ID
    assert result.state is MessageState.QUEUED
    assert result.ok
    assert not result.is_final
    assert result.error is None
    # The caller's message exactly as given: not normalised, default sender not filled in.
    assert result.message == Message("+7 (911) 222-33-33", TEXT, sender=None, date=when, ttl=10)


@pytest.mark.parametrize(("method", "fmt"), ENDPOINTS)
async def test_send_request_leaves_unset_optional_fields_out(method: str, fmt: str) -> None:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as gw:
        route = mock_route(gw, "send", method, fmt)
        async with make_client(method, fmt) as client:  # no default sender either
            await client.send("79112223333", "Hi")

    request = route.calls.last.request
    assert_url(request, "send", method, fmt)
    assert_headers(request, method, fmt)
    if method == "GET":
        assert request.url.params.multi_items() == [
            ("u", USERNAME),
            ("p", PASSWORD),
            ("d", "79112223333"),
            ("t", "Hi"),
        ]
    elif fmt == "json":
        assert json.loads(request.content) == {
            "auth": {"username": USERNAME, "password": PASSWORD},
            "data": [{"destination": "79112223333", "text": "Hi"}],
        }
    else:
        assert parse_xml(request.content) == {
            "sendSMS": {
                "auth": {"username": USERNAME, "password": PASSWORD},
                "data": {"message": {"destination": "79112223333", "text": "Hi"}},
            }
        }


@pytest.mark.parametrize(("method", "fmt"), ENDPOINTS)
async def test_send_per_call_sender_overrides_the_clients(method: str, fmt: str) -> None:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as gw:
        route = mock_route(gw, "send", method, fmt)
        async with make_client(method, fmt, sender=SENDER) as client:
            result = await client.send("79112223333", "Hi", sender="Other")

    request = route.calls.last.request
    if method == "GET":
        assert request.url.params["s"] == "Other"
    elif fmt == "json":
        assert json.loads(request.content)["data"][0]["source"] == "Other"
    else:
        assert parse_xml(request.content)["sendSMS"]["data"]["message"]["source"] == "Other"  # type: ignore[index]
    assert result.message.sender == "Other"


# ---------------------------------------------------------------------------------------------
# status


@pytest.mark.parametrize(("method", "fmt"), ENDPOINTS)
async def test_status_request_and_the_documents_answer(method: str, fmt: str) -> None:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as gw:
        route = mock_route(gw, "status", method, fmt)
        async with make_client(method, fmt, sender=SENDER) as client:
            result = await client.status(DOC_ID)

    assert route.call_count == 1
    request = route.calls.last.request
    assert_url(request, "status", method, fmt)
    assert_headers(request, method, fmt)
    if method == "GET":
        assert request.url.params.multi_items() == [
            ("u", USERNAME),
            ("p", PASSWORD),
            ("s", SENDER),
            ("id", DOC_ID),
        ]
    elif fmt == "json":
        assert json.loads(request.content) == {
            "auth": {"username": USERNAME, "password": PASSWORD},
            "data": [{"id": DOC_ID}],
        }
    else:
        assert parse_xml(request.content) == {
            "checkSMS": {
                "auth": {"username": USERNAME, "password": PASSWORD},
                "data": {"message": {"id": DOC_ID}},
            }
        }

    assert isinstance(result, StatusResult)
    assert result.id == DOC_ID
    assert result.requested_id == DOC_ID
    assert result.state is MessageState.QUEUED
    assert result.ok
    assert not result.is_final


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_status_get_without_a_sender_sends_no_s(fmt: str) -> None:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as gw:
        route = mock_route(gw, "status", "GET", fmt)
        async with make_client("GET", fmt) as client:
            await client.status(DOC_ID)
    assert route.calls.last.request.url.params.multi_items() == [
        ("u", USERNAME),
        ("p", PASSWORD),
        ("id", DOC_ID),
    ]


# ---------------------------------------------------------------------------------------------
# balance


@pytest.mark.parametrize(("method", "fmt"), ENDPOINTS)
async def test_balance_request_and_the_documents_answer(method: str, fmt: str) -> None:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as gw:
        route = mock_route(gw, "credit", method, fmt)
        async with make_client(method, fmt, sender=SENDER) as client:
            balance = await client.balance()

    assert route.call_count == 1
    request = route.calls.last.request
    assert_url(request, "credit", method, fmt)
    assert_headers(request, method, fmt)
    if method == "GET":
        # Only u and p, even when the client has a sender.
        assert request.url.params.multi_items() == [("u", USERNAME), ("p", PASSWORD)]
    elif fmt == "json":
        assert json.loads(request.content) == {"auth": {"username": USERNAME, "password": PASSWORD}}
    else:
        assert parse_xml(request.content) == {
            "getBalance": {"auth": {"username": USERNAME, "password": PASSWORD}}
        }

    assert isinstance(balance, Balance)
    assert isinstance(balance.amount, Decimal)
    assert balance.amount == Decimal("77212.0000")
    assert str(balance.amount) == "77212.0000"  # the exact decimal, scale kept: never a float


def test_the_defaults_are_post_and_json() -> None:
    client = MySMSClient(USERNAME, PASSWORD)
    assert "http_method='POST'" in repr(client)
    assert "wire_format='json'" in repr(client)


async def test_default_client_posts_json() -> None:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as gw:
        route = mock_route(gw, "credit", "POST", "json")
        async with MySMSClient(USERNAME, PASSWORD, retry_backoff=0) as client:
            await client.balance()
    request = route.calls.last.request
    assert request.method == "POST"
    assert request.url.path == "/rest/sms/credit/json"
    assert request.headers["content-type"] == JSON_CONTENT_TYPE


def test_a_base_url_without_trailing_slash_still_joins_paths() -> None:
    client = MySMSClient(USERNAME, PASSWORD, base_url="https://my-sms.ru/rest/sms")
    assert "base_url='https://my-sms.ru/rest/sms/'" in repr(client)


# ---------------------------------------------------------------------------------------------
# Decoding beyond the samples


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_json_numbers_may_arrive_as_numbers(method: str) -> None:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as gw:
        gw.route(url__startswith=BASE_URL + "status/json").respond(
            200, json={"state": 0, "data": [{"id": DOC_ID, "state": 4}]}
        )
        gw.route(url__startswith=BASE_URL + "credit/json").respond(
            200, json={"state": 0, "balance": 77212.5}
        )
        async with make_client(method, "json") as client:
            status = await client.status(DOC_ID)
            balance = await client.balance()
    assert status.state is MessageState.DELIVERED
    assert status.is_final
    assert status.ok
    # A JSON number never passes through a float on its way to the Decimal.
    assert balance.amount == Decimal("77212.5")
    assert str(balance.amount) == "77212.5"


async def test_balance_precision_is_exact() -> None:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as gw:
        gw.post("credit/json").respond(200, json={"state": 0, "balance": 0.1})
        gw.post("credit/xml").respond(
            200, content=b"<getBalance><state>0</state><balance>0,1</balance></getBalance>"
        )
        async with make_client("POST", "json") as client:
            from_json = await client.balance()
        async with make_client("POST", "xml") as client:
            from_xml = await client.balance()
    assert str(from_json.amount) == "0.1"
    assert str(from_xml.amount) == "0.1"


EMPTY_ID_ANSWERS = {
    "json": b'{"state": "0", "data": [{"id": "", "state": "-12"}]}',
    "xml": (
        b'<sendSMS xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><state>0</state>'
        b"<data><message><id></id><state>-12</state></message></data></sendSMS>"
    ),
    "xml-self-closing": (
        b"<sendSMS><state>0</state><data><message><id/><state>-12</state></message>"
        b"</data></sendSMS>"
    ),
}


@pytest.mark.parametrize("case", sorted(EMPTY_ID_ANSWERS))
async def test_an_empty_id_becomes_none(case: str) -> None:
    fmt = case.split("-")[0]
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as gw:
        gw.post(f"send/{fmt}").respond(200, content=EMPTY_ID_ANSWERS[case])
        async with make_client("POST", fmt) as client:
            result = await client.send("79112223333", "Hi")
    assert result.id is None
    assert result.state is MessageState.INVALID_DESTINATION
    assert not result.ok
    assert result.is_final


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(("code", "final", "ok"), [(7, False, True), (-99, True, False)])
async def test_an_unknown_message_state_is_a_plain_int(
    fmt: str, code: int, final: bool, ok: bool
) -> None:
    body = (
        json.dumps({"state": "0", "data": [{"id": DOC_ID, "state": str(code)}]}).encode()
        if fmt == "json"
        else (
            f"<checkSMS><state>0</state><data><message><id>{DOC_ID}</id>"
            f"<state>{code}</state></message></data></checkSMS >"
        ).encode()
    )
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as gw:
        gw.post(f"status/{fmt}").respond(200, content=body)
        async with make_client("POST", fmt) as client:
            result = await client.status(DOC_ID)
    assert type(result.state) is int
    assert result.state == code
    assert result.is_final is final
    assert result.ok is ok


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_several_message_entries_decode_in_order(fmt: str) -> None:
    ids = ["id-1", "id-2", "id-3"]
    states = ["4", "-10", "3"]
    if fmt == "json":
        body = json.dumps(
            {
                "state": "0",
                "data": [{"id": i, "state": s} for i, s in zip(ids, states, strict=True)],
            }
        ).encode()
    else:
        items = "".join(
            f"\n    <message>\n      <id>{i}</id>\n      <state>{s}</state>\n    </message>"
            for i, s in zip(ids, states, strict=True)
        )
        body = (
            '<checkSMS xmlns:i="http://www.w3.org/2001/XMLSchema-instance">\n'
            f"  <state>0</state>\n  <data>{items}\n  </data>\n</checkSMS >\n"
        ).encode()
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as gw:
        route = gw.post(f"status/{fmt}").respond(200, content=body)
        async with make_client("POST", fmt) as client:
            results = await client.status_many(ids)

    assert route.call_count == 1  # one POST carries every id
    request = route.calls.last.request
    if fmt == "json":
        assert json.loads(request.content)["data"] == [{"id": i} for i in ids]
    else:
        messages = parse_xml(request.content)["checkSMS"]["data"]["message"]  # type: ignore[index]
        assert messages == [{"id": i} for i in ids]
    assert [r.requested_id for r in results] == ids
    assert [r.id for r in results] == ids
    assert [r.state for r in results] == [
        MessageState.DELIVERED,
        MessageState.INVALID_ID,
        MessageState.SENT_TO_OPERATOR,
    ]


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_a_post_send_of_two_messages_is_one_request(fmt: str) -> None:
    messages = [Message("79112223333", "one"), Message("79112223334", "two", ttl=5)]
    if fmt == "json":
        body = b'{"state":"0","data":[{"id":"a","state":"2"},{"id":"","state":"-13"}]}'
    else:
        body = (
            b"<sendSMS><state>0</state><data><message><id>a</id><state>2</state></message>"
            b"<message><id></id><state>-13</state></message></data></sendSMS>"
        )
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as gw:
        route = gw.post(f"send/{fmt}").respond(200, content=body)
        async with make_client("POST", fmt, sender=SENDER) as client:
            results = await client.send_many(messages)

    assert route.call_count == 1
    request = route.calls.last.request
    expected = [
        {"source": SENDER, "destination": "79112223333", "text": "one"},
        {"source": SENDER, "destination": "79112223334", "text": "two", "ttl": "5"},
    ]
    if fmt == "json":
        assert json.loads(request.content)["data"] == expected
    else:
        assert parse_xml(request.content)["sendSMS"]["data"]["message"] == expected  # type: ignore[index]
    assert [r.message for r in results] == messages
    assert [r.id for r in results] == ["a", None]
    assert [r.state for r in results] == [MessageState.QUEUED, MessageState.INSUFFICIENT_FUNDS]
