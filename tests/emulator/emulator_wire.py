"""Hand-written requests to the emulator, and a plain reading of its answers, for the tests.

Nothing here uses the client library: requests are built from the document, so the emulator is
tested on its own terms.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from mysms_async.testing import DEMO_PASSWORD, DEMO_SENDER, DEMO_USERNAME

BASE = "http://mysms.test/rest/sms/"
DEST = "79112223333"

Method = Literal["GET", "POST"]
Format = Literal["json", "xml"]
COMBOS: list[tuple[Method, Format]] = [
    ("GET", "json"),
    ("GET", "xml"),
    ("POST", "json"),
    ("POST", "xml"),
]

_GET_NAMES = {"source": "s", "destination": "d", "text": "t", "date": "date", "ttl": "ttl"}


def message(text: str = "Hi", **fields: str) -> dict[str, str]:
    """A send message in the POST body's field names, with the demo sender and a valid number."""
    return {"source": DEMO_SENDER, "destination": DEST, "text": text, **fields}


def _escape(value: str) -> str:
    return (
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )


def _auth_xml(username: str, password: str) -> str:
    return (
        f"<auth><username>{_escape(username)}</username>"
        f"<password>{_escape(password)}</password></auth>"
    )


def send_json(
    *messages: dict[str, str], username: str = DEMO_USERNAME, password: str = DEMO_PASSWORD
) -> bytes:
    body = {"auth": {"username": username, "password": password}, "data": list(messages)}
    return json.dumps(body, ensure_ascii=False).encode()


def send_xml(
    *messages: dict[str, str], username: str = DEMO_USERNAME, password: str = DEMO_PASSWORD
) -> bytes:
    items = "".join(
        "<message>" + "".join(f"<{k}>{_escape(v)}</{k}>" for k, v in m.items()) + "</message>"
        for m in messages
    )
    return f"<sendSMS>{_auth_xml(username, password)}<data>{items}</data></sendSMS>".encode()


def status_json(*ids: str, username: str = DEMO_USERNAME, password: str = DEMO_PASSWORD) -> bytes:
    body = {"auth": {"username": username, "password": password}, "data": [{"id": i} for i in ids]}
    return json.dumps(body).encode()


def status_xml(*ids: str, username: str = DEMO_USERNAME, password: str = DEMO_PASSWORD) -> bytes:
    items = "".join(f"<message><id>{_escape(i)}</id></message>" for i in ids)
    return f"<checkSMS>{_auth_xml(username, password)}<data>{items}</data></checkSMS >".encode()


def credit_json(username: str = DEMO_USERNAME, password: str = DEMO_PASSWORD) -> bytes:
    return json.dumps({"auth": {"username": username, "password": password}}).encode()


def credit_xml(username: str = DEMO_USERNAME, password: str = DEMO_PASSWORD) -> bytes:
    return f"<getBalance>{_auth_xml(username, password)}</getBalance>".encode()


CONTENT_TYPES = {
    "json": "application/json; charset=utf-8",
    "xml": "application/xml; charset=utf-8",
}


async def post(http: httpx.AsyncClient, path: str, body: bytes) -> httpx.Response:
    fmt = path.rsplit("/", 1)[1]
    return await http.post(path, content=body, headers={"content-type": CONTENT_TYPES[fmt]})


@dataclass(frozen=True)
class Answer:
    """An answer read plainly: its request state, its (id, state) pairs, its balance."""

    state: str
    data: list[tuple[str, str]] | None
    balance: str | None
    root: str | None = None


def read(response: httpx.Response) -> Answer:
    """Read a JSON or an XML answer by its content type, keeping every value as the string sent."""
    assert response.status_code == 200, (response.status_code, response.text)
    content_type = response.headers["content-type"]
    if content_type == "application/json; charset=utf-8":
        body: dict[str, Any] = json.loads(response.content)
        for value in body.values():
            assert not isinstance(value, (int, float)), "numbers must be sent as strings"
        data = body.get("data")
        pairs: list[tuple[str, str]] | None = None
        if data is not None:
            pairs = []
            for entry in data:
                assert set(entry) == {"id", "state"}
                assert isinstance(entry["id"], str)
                assert isinstance(entry["state"], str)
                pairs.append((entry["id"], entry["state"]))
        allowed = {"state", "data", "balance"}
        assert set(body) <= allowed, body
        return Answer(body["state"], pairs, body.get("balance"))
    assert content_type == "application/xml; charset=utf-8", content_type
    root = ET.fromstring(response.content)
    assert root.attrib == {}  # xmlns:i is a namespace declaration, not an attribute
    state = root.findtext("state")
    assert state is not None
    data_node = root.find("data")
    pairs = None  # the same variable as above: list of pairs, or None without <data>
    if data_node is not None:
        pairs = []
        for item in data_node:
            assert item.tag == "message"
            pairs.append((item.findtext("id") or "", item.findtext("state") or ""))
    return Answer(state, pairs, root.findtext("balance"), root.tag)


async def send(
    http: httpx.AsyncClient,
    method: Method,
    fmt: Format,
    *messages: dict[str, str],
    username: str = DEMO_USERNAME,
    password: str = DEMO_PASSWORD,
) -> Answer:
    """Send messages the way ``method`` and ``fmt`` say (a GET carries exactly one)."""
    if method == "GET":
        (only,) = messages
        params = {"u": username, "p": password}
        params.update({_GET_NAMES[k]: v for k, v in only.items()})
        return read(await http.get(f"send/{fmt}", params=params))
    build = send_json if fmt == "json" else send_xml
    return read(
        await post(http, f"send/{fmt}", build(*messages, username=username, password=password))
    )


async def status(
    http: httpx.AsyncClient,
    method: Method,
    fmt: Format,
    *ids: str,
    username: str = DEMO_USERNAME,
    password: str = DEMO_PASSWORD,
) -> Answer:
    if method == "GET":
        (only,) = ids
        params = {"u": username, "p": password, "s": DEMO_SENDER, "id": only}
        return read(await http.get(f"status/{fmt}", params=params))
    build = status_json if fmt == "json" else status_xml
    return read(
        await post(http, f"status/{fmt}", build(*ids, username=username, password=password))
    )


async def credit(
    http: httpx.AsyncClient,
    method: Method,
    fmt: Format,
    *,
    username: str = DEMO_USERNAME,
    password: str = DEMO_PASSWORD,
) -> Answer:
    if method == "GET":
        return read(await http.get(f"credit/{fmt}", params={"u": username, "p": password}))
    build = credit_json if fmt == "json" else credit_xml
    return read(await post(http, f"credit/{fmt}", build(username, password)))


async def send_one(http: httpx.AsyncClient, text: str = "Hi", **fields: str) -> str:
    """Send one message by POST JSON and return its id (asserting it was accepted)."""
    answer = await send(http, "POST", "json", message(text, **fields))
    assert answer.state == "0"
    assert answer.data is not None
    ((message_id, state),) = answer.data
    assert state == "2", state
    return message_id


class Clock:
    """A clock a test moves by hand: give it as ``FakeGateway(clock=...)``, then set ``now``."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
