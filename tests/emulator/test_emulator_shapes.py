"""Every endpoint × method × format answers in the document's exact shape."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from emulator_wire import (
    COMBOS,
    DEST,
    Format,
    Method,
    credit,
    credit_json,
    credit_xml,
    message,
    post,
    send,
    send_json,
    send_one,
    status,
    status_xml,
)

from mysms_async.testing import DEMO_PASSWORD, DEMO_SENDER, DEMO_USERNAME, FakeGateway

XSI = 'xmlns:i="http://www.w3.org/2001/XMLSchema-instance"'
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


@pytest.mark.parametrize(("method", "fmt"), COMBOS)
async def test_send_answers_one_uuid4_id_in_state_2(
    http: httpx.AsyncClient, gateway: FakeGateway, method: Method, fmt: Format
) -> None:
    answer = await send(http, method, fmt, message("Hello"))
    assert answer.state == "0"
    assert answer.data is not None
    ((message_id, state),) = answer.data
    assert state == "2"
    assert UUID.fullmatch(message_id)
    assert uuid.UUID(message_id).version == 4
    assert answer.root in (None, "sendSMS")
    sent = gateway.message(message_id)
    assert (sent.source, sent.destination, sent.text, sent.state) == (DEMO_SENDER, DEST, "Hello", 2)


@pytest.mark.parametrize(("method", "fmt"), COMBOS)
async def test_status_answers_the_message_state(
    http: httpx.AsyncClient, gateway: FakeGateway, method: Method, fmt: Format
) -> None:
    message_id = await send_one(http)
    gateway.advance()
    answer = await status(http, method, fmt, message_id)
    assert answer.state == "0"
    assert answer.data == [(message_id, "3")]
    if fmt == "xml":
        assert answer.root == ("checkSMS" if method == "POST" else "sendSMS")


@pytest.mark.parametrize(("method", "fmt"), COMBOS)
async def test_credit_answers_the_balance_with_a_decimal_comma(
    http: httpx.AsyncClient, gateway: FakeGateway, method: Method, fmt: Format
) -> None:
    gateway.set_balance(DEMO_USERNAME, "77212")
    answer = await credit(http, method, fmt)
    assert answer.state == "0"
    assert answer.balance == "77212,0000"
    assert answer.data is None
    if fmt == "xml":
        assert answer.root == "getBalance"


async def test_json_send_answer_bytes(http: httpx.AsyncClient) -> None:
    response = await post(http, "send/json", send_json(message(), message(destination="1")))
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["content-length"] == str(len(response.content))
    (message_id,) = re.findall(UUID, response.text)
    assert response.content == (
        b'{"state":"0","data":[{"id":"' + message_id.encode() + b'","state":"2"},'
        b'{"id":"","state":"-12"}]}'
    )


async def test_xml_send_answer_bytes_follow_the_document(http: httpx.AsyncClient) -> None:
    response = await http.get(
        "send/xml",
        params={"u": DEMO_USERNAME, "p": DEMO_PASSWORD, "s": DEMO_SENDER, "d": DEST, "t": "Hi"},
    )
    assert response.headers["content-type"] == "application/xml; charset=utf-8"
    (message_id,) = re.findall(UUID, response.text)
    assert response.text == (
        f"<sendSMS {XSI}>\n"
        "  <state>0</state>\n"
        "  <data>\n"
        "    <message>\n"
        f"      <id>{message_id}</id>\n"
        "      <state>2</state>\n"
        "    </message>\n"
        "  </data>\n"
        "</sendSMS>"
    )


async def test_xml_post_status_answer_is_check_sms_closed_with_a_space(
    http: httpx.AsyncClient,
) -> None:
    message_id = await send_one(http)
    response = await post(http, "status/xml", status_xml(message_id, "nope"))
    assert response.content.startswith(f"<checkSMS {XSI}>".encode())
    assert response.content.endswith(b"\n</checkSMS >")
    assert b"</checkSMS>" not in response.content
    assert f"<id>{message_id}</id>\n      <state>2</state>".encode() in response.content
    assert b"<id />\n      <state>-10</state>" in response.content


async def test_xml_get_status_answer_is_send_sms(http: httpx.AsyncClient) -> None:
    message_id = await send_one(http)
    params = {"u": DEMO_USERNAME, "p": DEMO_PASSWORD, "id": message_id}
    response = await http.get("status/xml", params=params)
    assert response.content.startswith(f"<sendSMS {XSI}>".encode())
    assert response.content.endswith(b"\n</sendSMS>")


async def test_xml_credit_answer_bytes(http: httpx.AsyncClient) -> None:
    response = await post(http, "credit/xml", credit_xml())
    assert response.text == (
        f"<getBalance {XSI}>\n  <state>0</state>\n  <balance>1000,0000</balance>\n</getBalance>"
    )


async def test_json_credit_answer_bytes(http: httpx.AsyncClient, gateway: FakeGateway) -> None:
    gateway.set_balance(DEMO_USERNAME, "0.5")
    response = await post(http, "credit/json", credit_json())
    assert response.content == b'{"state":"0","balance":"0,5000"}'


@pytest.mark.parametrize(("method", "fmt"), COMBOS)
@pytest.mark.parametrize("endpoint", ["send", "status", "credit"])
async def test_bad_credentials_answer_state_minus_1_without_data(
    http: httpx.AsyncClient, gateway: FakeGateway, endpoint: str, method: Method, fmt: Format
) -> None:
    kwargs = {"username": DEMO_USERNAME, "password": "wrong"}
    if endpoint == "send":
        answer = await send(http, method, fmt, message(), **kwargs)
    elif endpoint == "status":
        answer = await status(http, method, fmt, "some-id", **kwargs)
    else:
        answer = await credit(http, method, fmt, **kwargs)
    assert answer == type(answer)("-1", None, None, answer.root)
    assert gateway.messages == {}
    assert gateway.balance_of(DEMO_USERNAME) == 1000


async def test_unknown_user_answers_minus_1(http: httpx.AsyncClient) -> None:
    answer = await credit(http, "POST", "json", username="nobody")
    assert answer.state == "-1"


async def test_error_answer_bytes(http: httpx.AsyncClient) -> None:
    json_answer = await post(http, "send/json", send_json(message(), password="x"))
    assert json_answer.content == b'{"state":"-1"}'
    xml_answer = await post(http, "status/xml", status_xml("id", password="x"))
    assert xml_answer.text == f"<checkSMS {XSI}>\n  <state>-1</state>\n</checkSMS >"
    get_answer = await http.get("send/xml", params={"u": "x", "p": "y", "t": "z"})
    assert get_answer.text == f"<sendSMS {XSI}>\n  <state>-1</state>\n</sendSMS>"


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_data_has_one_entry_per_message_in_order(
    http: httpx.AsyncClient, gateway: FakeGateway, fmt: Format
) -> None:
    messages = [
        message("one"),
        message("two", destination="123"),
        message("three", source="Unknown"),
        message("four"),
    ]
    answer = await send(http, "POST", fmt, *messages)
    assert answer.data is not None
    assert [state for _, state in answer.data] == ["2", "-12", "-11", "2"]
    assert answer.data[1][0] == answer.data[2][0] == ""
    first, fourth = answer.data[0][0], answer.data[3][0]
    assert first != fourth
    assert [gateway.message(i).text for i in (first, fourth)] == ["one", "four"]
    assert list(gateway.messages) == [first, fourth]

    checked = await status(http, "POST", fmt, fourth, "missing", first)
    assert checked.data == [(fourth, "2"), ("", "-10"), (first, "2")]


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_empty_data_answers_an_empty_list(http: httpx.AsyncClient, fmt: Format) -> None:
    answer = await send(http, "POST", fmt)
    assert answer.state == "0"
    assert answer.data == []


async def test_seeded_gateways_give_the_same_ids() -> None:
    ids = []
    for _ in range(2):
        gateway = FakeGateway(seed=99)
        async with httpx.AsyncClient(
            transport=gateway.transport(), base_url="http://mysms.test/rest/sms/"
        ) as http:
            ids.append(await send_one(http))
    assert ids[0] == ids[1]
    assert uuid.UUID(ids[0]).version == 4


async def test_custom_base_path() -> None:
    gateway = FakeGateway(base_path="/api/")
    async with httpx.AsyncClient(
        transport=gateway.transport(), base_url="http://mysms.test/api/"
    ) as http:
        answer = await credit(http, "GET", "json")
        assert answer.balance == "1000,0000"
        assert (await http.get("http://mysms.test/rest/sms/credit/json")).status_code == 404
    with pytest.raises(ValueError, match="base_path"):
        FakeGateway(base_path="api")
