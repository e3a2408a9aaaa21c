"""What the emulator accepts: the document's requests, exactly; anything else is HTTP 400."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from emulator_wire import (
    DEST,
    credit_json,
    credit_xml,
    message,
    post,
    send,
    send_json,
    send_xml,
    status_json,
    status_xml,
)

from mysms_async.testing import (
    DEMO_PASSWORD,
    DEMO_SENDER,
    DEMO_USERNAME,
    FakeGateway,
    MessageFields,
)

AUTH = f"<auth><username>{DEMO_USERNAME}</username><password>{DEMO_PASSWORD}</password></auth>"
JSON_AUTH = f'"auth": {{"username": "{DEMO_USERNAME}", "password": "{DEMO_PASSWORD}"}}'
TRICKY = [
    "  leading and trailing spaces  ",
    "tab\tnew\nline\r\ncarriage\rreturn",
    "\r",
    "markup & < > \" ' ]]> &amp;",
    "Привет, мир! 😀👍🏽",
    "€^{}[~]|\\",
    "+plus+ %25 =equals= &amp=",
]


async def _reject(
    http: httpx.AsyncClient, gateway: FakeGateway, response: httpx.Response, reason: str
) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert reason in response.text
    record = gateway.requests[-1]
    assert record.status_code == 400
    assert record.error is not None
    assert reason in record.error
    assert gateway.messages == {}
    assert gateway.balance_of(DEMO_USERNAME) == 1000


@pytest.mark.parametrize(
    ("path", "content_type", "reason"),
    [
        ("send/json", "application/xml; charset=utf-8", "content-type must be application/json"),
        ("send/json", "text/plain", "content-type must be application/json"),
        ("send/xml", "application/json", "content-type must be application/xml"),
        ("send/xml", "text/xml; charset=utf-8", "content-type must be application/xml"),
        ("credit/json", "application/json; charset=windows-1251", "charset must be utf-8"),
    ],
)
async def test_wrong_content_type(
    http: httpx.AsyncClient, gateway: FakeGateway, path: str, content_type: str, reason: str
) -> None:
    body = send_json(message()) if path.endswith("json") else send_xml(message())
    response = await http.post(path, content=body, headers={"content-type": content_type})
    await _reject(http, gateway, response, reason)


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "Application/JSON; charset=UTF-8", 'application/json; charset="utf-8"'],
)
async def test_content_type_variants_accepted(http: httpx.AsyncClient, content_type: str) -> None:
    response = await http.post(
        "credit/json", content=credit_json(), headers={"content-type": content_type}
    )
    assert response.status_code == 200


async def test_missing_content_type(http: httpx.AsyncClient, gateway: FakeGateway) -> None:
    response = await http.post("credit/json", content=credit_json())
    await _reject(http, gateway, response, "missing content-type")


@pytest.mark.parametrize(
    ("path", "body", "reason"),
    [
        ("send/json", b"{not json", "malformed JSON"),
        ("send/json", b"", "malformed JSON"),
        ("send/json", b"\xff\xfe", "malformed JSON"),
        ("send/json", b"[]", "malformed JSON"),
        ("send/json", b'{"data": []}', "auth"),
        ("send/json", f"{{{JSON_AUTH}}}".encode(), "data"),
        ("send/json", f'{{{JSON_AUTH}, "data": [{{"sender": "x"}}]}}'.encode(), "sender"),
        ("send/json", f'{{{JSON_AUTH}, "data": [{{"ttl": 10}}]}}'.encode(), "ttl"),
        ("send/json", f'{{{JSON_AUTH}, "data": [{{"date": null}}]}}'.encode(), "date"),
        ("send/json", f'{{{JSON_AUTH}, "data": {{}}}}'.encode(), "data"),
        ("send/json", f'{{{JSON_AUTH}, "data": [], "extra": 1}}'.encode(), "extra"),
        ("status/json", f'{{{JSON_AUTH}, "data": [{{"id": 5}}]}}'.encode(), "id"),
        ("status/json", f'{{{JSON_AUTH}, "data": [{{}}]}}'.encode(), "id"),
        ("credit/json", b'{"auth": {"username": "demo"}}', "password"),
        ("credit/json", b'{"auth": {"username": "demo", "password": 1}}', "password"),
        ("send/xml", b"<sendSMS><auth>", "malformed XML"),
        ("send/xml", b"", "malformed XML"),
        ("send/xml", f"<checkSMS>{AUTH}<data/></checkSMS>".encode(), "root element"),
        ("send/xml", b"<sendSMS><data/></sendSMS>", "missing <auth>"),
        ("send/xml", f"<sendSMS>{AUTH}</sendSMS>".encode(), "missing <data>"),
        ("send/xml", f"<sendSMS>{AUTH}{AUTH}<data/></sendSMS>".encode(), "twice"),
        ("send/xml", f"<sendSMS>{AUTH}<data><msg/></data></sendSMS>".encode(), "<msg>"),
        (
            "send/xml",
            f"<sendSMS>{AUTH}<data><message><sender>a</sender></message></data></sendSMS>".encode(),
            "<sender>",
        ),
        (
            "send/xml",
            f"<sendSMS>{AUTH}<data><message><text><b>x</b></text></message></data></sendSMS>".encode(),
            "<text>",
        ),
        ("send/xml", f"<sendSMS>{AUTH}<data>loose text</data></sendSMS>".encode(), "<data>"),
        (
            "send/xml",
            f"<sendSMS>{AUTH}<data><message><text>&nbsp;</text></message></data></sendSMS>".encode(),
            "malformed XML",
        ),
        (
            "status/xml",
            f"<checkSMS>{AUTH}<data><message></message></data></checkSMS>".encode(),
            "missing <id>",
        ),
        (
            "credit/xml",
            b"<getBalance><auth><username>demo</username></auth></getBalance>",
            "missing <password>",
        ),
        ("credit/xml", f"<getBalance>{AUTH}<data/></getBalance>".encode(), "<data>"),
        ("credit/xml", f"<getBalance>{AUTH}stray</getBalance>".encode(), "holds text"),
        (
            "credit/xml",
            b"<getBalance><auth>x<username>a</username><password>b</password></auth></getBalance>",
            "<auth> holds text",
        ),
        ("credit/xml", f"<sendSMS>{AUTH}</sendSMS>".encode(), "root element"),
    ],
)
async def test_malformed_post_bodies(
    http: httpx.AsyncClient, gateway: FakeGateway, path: str, body: bytes, reason: str
) -> None:
    await _reject(http, gateway, await post(http, path, body), reason)


async def test_doctype_and_entities_are_refused(
    http: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b"<getBalance><auth><username>&lol2;</username><password>x</password></auth></getBalance>"
    )
    await _reject(http, gateway, await post(http, "credit/xml", bomb), "DOCTYPE")
    plain_doctype = b"<!DOCTYPE getBalance><getBalance>" + AUTH.encode() + b"</getBalance>"
    await _reject(http, gateway, await post(http, "credit/xml", plain_doctype), "DOCTYPE")


async def test_xml_declaration_attributes_and_comments_are_fine(http: httpx.AsyncClient) -> None:
    body = (
        '<?xml version="1.0" encoding="utf-8"?>\n<!-- a comment -->\n'
        f'<getBalance xmlns:i="http://www.w3.org/2001/XMLSchema-instance">\n  {AUTH}\n</getBalance>'
    ).encode()
    response = await post(http, "credit/xml", body)
    assert response.status_code == 200
    assert b"<balance>1000,0000</balance>" in response.content


async def test_xml_auth_fields_in_any_order(http: httpx.AsyncClient) -> None:
    # The document's own credit/xml example puts <password> first.
    body = (
        f"<getBalance><auth><password>{DEMO_PASSWORD}</password>"
        f"<username>{DEMO_USERNAME}</username></auth></getBalance>"
    ).encode()
    assert b"1000,0000" in (await post(http, "credit/xml", body)).content


@pytest.mark.parametrize(
    ("path", "params", "reason"),
    [
        ("send/json", {"u": DEMO_USERNAME, "p": DEMO_PASSWORD, "text": "x"}, "'text'"),
        ("status/xml", {"u": DEMO_USERNAME, "p": DEMO_PASSWORD}, "id"),
        ("status/json", {"u": DEMO_USERNAME, "p": DEMO_PASSWORD, "id": "x", "d": DEST}, "'d'"),
        ("credit/json", {"u": DEMO_USERNAME, "p": DEMO_PASSWORD, "s": DEMO_SENDER}, "'s'"),
    ],
)
async def test_malformed_get_queries(
    http: httpx.AsyncClient, gateway: FakeGateway, path: str, params: dict[str, str], reason: str
) -> None:
    await _reject(http, gateway, await http.get(path, params=params), reason)


async def test_repeated_and_undecodable_query_parameters(
    http: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    twice = await http.get(f"credit/json?u={DEMO_USERNAME}&u=x&p={DEMO_PASSWORD}")
    await _reject(http, gateway, twice, "twice")
    bad_utf8 = await http.get(f"credit/json?u=%FF&p={DEMO_PASSWORD}")
    await _reject(http, gateway, bad_utf8, "malformed query")
    no_equals = await http.get(f"credit/json?u={DEMO_USERNAME}&p={DEMO_PASSWORD}&junk")
    await _reject(http, gateway, no_equals, "malformed query")


async def test_get_with_a_body_and_post_with_a_query(
    http: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    params = {"u": DEMO_USERNAME, "p": DEMO_PASSWORD}
    with_body = await http.request("GET", "credit/json", params=params, content=b"{}")
    await _reject(http, gateway, with_body, "no body")
    with_query = await http.post(
        "credit/json",
        params=params,
        content=credit_json(),
        headers={"content-type": "application/json"},
    )
    await _reject(http, gateway, with_query, "not the query")


async def test_chunked_or_unsized_post_bodies(
    http: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield credit_json()

    chunked = await http.post(
        "credit/json", content=chunks(), headers={"content-type": "application/json"}
    )
    await _reject(http, gateway, chunked, "Content-Length")
    lying = await http.post(
        "credit/json",
        content=credit_json(),
        headers={"content-type": "application/json", "content-length": "3"},
    )
    await _reject(http, gateway, lying, "Content-Length 3")


async def test_unknown_path_and_method(http: httpx.AsyncClient, gateway: FakeGateway) -> None:
    for path in ["send/yaml", "send/json/", "send", "send/JSON", "http://mysms.test/credit/json"]:
        response = await http.get(path)
        assert response.status_code == 404, path
        assert gateway.requests[-1].endpoint is None
    response = await http.put("credit/json", content=credit_json())
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert gateway.requests[-1].endpoint == "credit"


@pytest.mark.parametrize("text", TRICKY)
async def test_text_survives_json_exactly(
    http: httpx.AsyncClient, gateway: FakeGateway, text: str
) -> None:
    answer = await send(http, "POST", "json", message(text))
    assert answer.data is not None
    assert gateway.message(answer.data[0][0]).text == text


@pytest.mark.parametrize("text", TRICKY)
async def test_text_survives_xml_exactly(
    http: httpx.AsyncClient, gateway: FakeGateway, text: str
) -> None:
    answer = await send(http, "POST", "xml", message(text))
    assert answer.data is not None
    assert gateway.message(answer.data[0][0]).text == text


@pytest.mark.parametrize("text", TRICKY)
async def test_text_survives_get_exactly(
    http: httpx.AsyncClient, gateway: FakeGateway, text: str
) -> None:
    answer = await send(http, "GET", "json", message(text))
    assert answer.data is not None
    assert gateway.message(answer.data[0][0]).text == text


async def test_xml_raw_carriage_return_is_normalised_as_xml_requires(
    http: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    # A literal CR in XML is read as LF by any conforming parser: a client must write &#13;.
    body = send_xml(message("placeholder")).replace(b"placeholder", b"a\r\nb\rc&#13;d")
    answer = await post(http, "send/xml", body)
    message_id = answer.text.split("<id>")[1].split("</id>")[0]
    assert gateway.message(message_id).text == "a\nb\nc\rd"


async def test_xml_cdata_text(http: httpx.AsyncClient, gateway: FakeGateway) -> None:
    body = send_xml(message("placeholder")).replace(b"placeholder", b"<![CDATA[ <b>&</b> ]]>")
    answer = await post(http, "send/xml", body)
    message_id = answer.text.split("<id>")[1].split("</id>")[0]
    assert gateway.message(message_id).text == " <b>&</b> "


async def test_requests_are_recorded_as_they_arrived(
    http: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    body = send_xml(message("Hi", date="24.11.2026 18:30:00", ttl="10"), message("Yo"))
    await post(http, "send/xml", body)
    await http.get("status/json", params={"u": DEMO_USERNAME, "p": DEMO_PASSWORD, "id": "abc"})
    await post(http, "status/json", status_json("a", "b"))
    await post(http, "status/xml", status_xml("c"))
    await post(http, "credit/xml", credit_xml())

    sent, get_status, post_status, xml_status, balance = gateway.requests
    assert (sent.method, sent.path, sent.endpoint, sent.format) == (
        "POST",
        "/rest/sms/send/xml",
        "send",
        "xml",
    )
    assert sent.body == body
    assert sent.header("Content-Type") == "application/xml; charset=utf-8"
    assert sent.header("content-length") == str(len(body))
    assert sent.query == ()
    assert (sent.username, sent.password) == (DEMO_USERNAME, DEMO_PASSWORD)
    assert sent.messages == (
        MessageFields(DEMO_SENDER, DEST, "Hi", "24.11.2026 18:30:00", "10"),
        MessageFields(DEMO_SENDER, DEST, "Yo", None, None),
    )
    assert (sent.status_code, sent.error, sent.fault) == (200, None, None)

    assert get_status.method == "GET"
    assert get_status.query_param("id") == "abc"
    assert get_status.ids == ("abc",)
    assert get_status.body == b""
    assert post_status.ids == ("a", "b")
    assert xml_status.ids == ("c",)
    assert balance.endpoint == "credit"
    assert balance.messages == ()
    assert balance.ids == ()


async def test_get_send_fields_are_recorded_under_body_names(
    http: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    await send(http, "GET", "xml", message("Hi", ttl="5"))
    (record,) = gateway.requests
    assert record.messages == (MessageFields(DEMO_SENDER, DEST, "Hi", None, "5"),)
    assert record.query_param("t") == "Hi"
    assert record.query_param("date") is None
