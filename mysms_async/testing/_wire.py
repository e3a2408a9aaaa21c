"""The emulator's side of the wire: requests parsed, and answers written, from the document alone.

This module deliberately shares nothing with the client's request builder or decoders, so that
each side checks the other. It is strict where the client could be wrong: a wrong content type, a
body that does not parse, a wrong root element, a missing ``auth``, an unknown or repeated field,
a value that is not a string, all answer HTTP 400 with the reason in a plain-text body, so a
client bug shows as a failed test rather than as a quietly tolerant fake. (A GET without ``u`` or
``p`` is not among them: the gateway answers it -1, and so does the emulator. The gateway's
``strict=False`` lets unknown query parameters and a wrong content type through.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final
from urllib.parse import parse_qsl
from xml.parsers import expat
from xml.sax.saxutils import escape

import msgspec

from ._faults import Endpoint
from ._records import MessageFields, WireFormat

__all__ = [
    "BadRequest",
    "ParsedRequest",
    "parse_get",
    "parse_post",
    "parse_query",
    "render_balance",
    "render_data",
    "render_state",
    "root_element",
]

XSI_NAMESPACE: Final = "http://www.w3.org/2001/XMLSchema-instance"
JSON_CONTENT_TYPE: Final = "application/json; charset=utf-8"
XML_CONTENT_TYPE: Final = "application/xml; charset=utf-8"

_GET_PARAMS: Final[dict[Endpoint, frozenset[str]]] = {
    "send": frozenset({"u", "p", "s", "d", "t", "date", "ttl"}),
    "status": frozenset({"u", "p", "s", "id"}),
    "credit": frozenset({"u", "p"}),
}
_XML_ROOTS: Final[dict[Endpoint, str]] = {
    "send": "sendSMS",
    "status": "checkSMS",
    "credit": "getBalance",
}
_SEND_FIELDS: Final = ("source", "destination", "text", "date", "ttl")


class BadRequest(Exception):
    """A request the gateway cannot read: answered with HTTP 400 and this message."""


@dataclass(frozen=True)
class ParsedRequest:
    """What a well-formed request asks for; ``messages`` for send, ``ids`` for status."""

    username: str
    password: str = field(repr=False)
    messages: tuple[MessageFields, ...] = ()
    ids: tuple[str, ...] = ()


# --- GET ----------------------------------------------------------------------------------------


def parse_query(raw: bytes) -> tuple[tuple[str, str], ...]:
    """Decode a raw query string (percent-encoded UTF-8, ``+`` for space)."""
    if not raw:
        return ()
    try:
        text = raw.decode("ascii")
        return tuple(
            parse_qsl(
                text, keep_blank_values=True, strict_parsing=True, encoding="utf-8", errors="strict"
            )
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"malformed query string: {exc}") from None


def parse_get(
    endpoint: Endpoint, query: tuple[tuple[str, str], ...], *, strict: bool = True
) -> ParsedRequest:
    """Read a GET request's parameters: ``u p`` always, then one message or one id.

    A missing ``u`` or ``p`` is read as empty: the real gateway answers that with request state
    -1, like a wrong password, not with an HTTP error. ``strict`` refuses unknown and repeated
    parameters; without it they are ignored (the first of a repeated one wins).
    """
    allowed = _GET_PARAMS[endpoint]
    params: dict[str, str] = {}
    for key, value in query:
        if key not in allowed:
            if strict:
                raise BadRequest(f"unknown query parameter {key!r} for {endpoint}")
            continue
        if key in params:
            if strict:
                raise BadRequest(f"query parameter {key!r} given twice")
            continue
        params[key] = value
    params.setdefault("u", "")
    params.setdefault("p", "")
    if endpoint == "send":
        message = MessageFields(
            source=params.get("s"),
            destination=params.get("d"),
            text=params.get("t"),
            date=params.get("date"),
            ttl=params.get("ttl"),
        )
        return ParsedRequest(params["u"], params["p"], messages=(message,))
    if endpoint == "status":
        if "id" not in params:
            raise BadRequest("missing query parameter id")
        return ParsedRequest(params["u"], params["p"], ids=(params["id"],))
    return ParsedRequest(params["u"], params["p"])


# --- POST ---------------------------------------------------------------------------------------


def check_content_type(value: str | None, fmt: WireFormat) -> None:
    """The document's POST content types, with an optional UTF-8 charset."""
    if value is None:
        raise BadRequest("missing content-type")
    media_type, *params = (part.strip() for part in value.split(";"))
    expected = f"application/{fmt}"
    if media_type.lower() != expected:
        raise BadRequest(f"content-type must be {expected}, got {value!r}")
    for param in params:
        key, _, charset = param.partition("=")
        if key.strip().lower() == "charset" and charset.strip().strip('"').lower() not in {
            "utf-8",
            "utf8",
        }:
            raise BadRequest(f"charset must be utf-8, got {value!r}")


def parse_post(endpoint: Endpoint, fmt: WireFormat, body: bytes) -> ParsedRequest:
    """Read a POST body of the document's shape for ``endpoint`` in ``fmt``."""
    if fmt == "json":
        return _parse_json(endpoint, body)
    return _parse_xml(endpoint, body)


class _JSONAuth(msgspec.Struct, forbid_unknown_fields=True):
    username: str
    password: str


class _JSONSendMessage(msgspec.Struct, forbid_unknown_fields=True):
    source: str | msgspec.UnsetType = msgspec.UNSET
    destination: str | msgspec.UnsetType = msgspec.UNSET
    text: str | msgspec.UnsetType = msgspec.UNSET
    date: str | msgspec.UnsetType = msgspec.UNSET
    ttl: str | msgspec.UnsetType = msgspec.UNSET


class _JSONSend(msgspec.Struct, forbid_unknown_fields=True):
    auth: _JSONAuth
    data: list[_JSONSendMessage]


class _JSONStatusId(msgspec.Struct, forbid_unknown_fields=True):
    id: str


class _JSONStatus(msgspec.Struct, forbid_unknown_fields=True):
    auth: _JSONAuth
    data: list[_JSONStatusId]


class _JSONCredit(msgspec.Struct, forbid_unknown_fields=True):
    auth: _JSONAuth


# Built once: a decoder per body type (null, numbers, extra keys are all rejected).
_SEND_DECODER: Final = msgspec.json.Decoder(_JSONSend)
_STATUS_DECODER: Final = msgspec.json.Decoder(_JSONStatus)
_CREDIT_DECODER: Final = msgspec.json.Decoder(_JSONCredit)


def _unset_to_none(value: str | msgspec.UnsetType) -> str | None:
    return None if isinstance(value, msgspec.UnsetType) else value


def _parse_json(endpoint: Endpoint, body: bytes) -> ParsedRequest:
    try:
        if endpoint == "send":
            send = _SEND_DECODER.decode(body)
            messages = tuple(
                MessageFields(*(_unset_to_none(getattr(item, name)) for name in _SEND_FIELDS))
                for item in send.data
            )
            return ParsedRequest(send.auth.username, send.auth.password, messages=messages)
        if endpoint == "status":
            status = _STATUS_DECODER.decode(body)
            ids = tuple(item.id for item in status.data)
            return ParsedRequest(status.auth.username, status.auth.password, ids=ids)
        credit = _CREDIT_DECODER.decode(body)
        return ParsedRequest(credit.auth.username, credit.auth.password)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"malformed JSON body: {exc}") from None


@dataclass
class _Node:
    """An XML element: its name, its children in order, and its character data."""

    name: str
    children: list[_Node] = field(default_factory=list)
    chunks: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.chunks)


def _forbidden(*_args: object) -> None:
    raise BadRequest("DOCTYPE and entity declarations are not accepted")


def _parse_xml_tree(body: bytes) -> _Node:
    """Parse with expat, keeping character data exactly (whitespace, ``&#13;``) and refusing any
    DOCTYPE, so that no entity can expand."""
    parser = expat.ParserCreate("utf-8")
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[_Node] = []
    roots: list[_Node] = []

    def start(name: str, _attributes: object) -> None:
        node = _Node(name)
        (stack[-1].children if stack else roots).append(node)
        stack.append(node)

    def end(_name: str) -> None:
        stack.pop()

    def characters(data: str) -> None:
        if stack:
            stack[-1].chunks.append(data)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    parser.StartDoctypeDeclHandler = _forbidden
    parser.EntityDeclHandler = _forbidden
    try:
        parser.Parse(body, True)
    except expat.ExpatError as exc:
        raise BadRequest(f"malformed XML body: {exc}") from None
    return roots[0]


def _children(
    node: _Node, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict[str, _Node]:
    """The children of a container element by name: each at most once, no others, no text."""
    if node.text.strip():
        raise BadRequest(f"<{node.name}> holds text where elements are expected")
    found: dict[str, _Node] = {}
    for child in node.children:
        if child.name not in required and child.name not in optional:
            raise BadRequest(f"unexpected <{child.name}> in <{node.name}>")
        if child.name in found:
            raise BadRequest(f"<{child.name}> given twice in <{node.name}>")
        found[child.name] = child
    for name in required:
        if name not in found:
            raise BadRequest(f"missing <{name}> in <{node.name}>")
    return found


def _leaf(node: _Node) -> str:
    """The exact text of an element that must hold only text."""
    if node.children:
        raise BadRequest(f"<{node.name}> holds elements where text is expected")
    return node.text


def _messages(data: _Node) -> list[_Node]:
    if data.text.strip():
        raise BadRequest("<data> holds text where <message> elements are expected")
    for child in data.children:
        if child.name != "message":
            raise BadRequest(f"unexpected <{child.name}> in <data>")
    return data.children


def _parse_xml(endpoint: Endpoint, body: bytes) -> ParsedRequest:
    root = _parse_xml_tree(body)
    expected = _XML_ROOTS[endpoint]
    if root.name != expected:
        raise BadRequest(f"root element must be <{expected}>, got <{root.name}>")
    top = _children(root, ("auth", "data") if endpoint != "credit" else ("auth",))
    auth = _children(top["auth"], ("username", "password"))
    username, password = _leaf(auth["username"]), _leaf(auth["password"])
    if endpoint == "credit":
        return ParsedRequest(username, password)
    if endpoint == "status":
        ids = tuple(_leaf(_children(item, ("id",))["id"]) for item in _messages(top["data"]))
        return ParsedRequest(username, password, ids=ids)
    messages = []
    for item in _messages(top["data"]):
        fields = _children(item, (), _SEND_FIELDS)
        values = {name: _leaf(node) for name, node in fields.items()}
        messages.append(MessageFields(**values))
    return ParsedRequest(username, password, messages=tuple(messages))


# --- answers ------------------------------------------------------------------------------------


def root_element(endpoint: Endpoint, method: str) -> tuple[str, str]:
    """The XML answer's root name and closing tag, as the document shows them.

    send answers ``<sendSMS>``; status answers ``<sendSMS>`` to a GET but ``<checkSMS>`` to a POST,
    closed as ``</checkSMS >``; the balance answers ``<getBalance>``.
    """
    if endpoint == "credit":
        return "getBalance", "</getBalance>"
    if endpoint == "status" and method == "POST":
        return "checkSMS", "</checkSMS >"
    return "sendSMS", "</sendSMS>"


def _xml(endpoint: Endpoint, method: str, lines: list[str]) -> bytes:
    name, closing = root_element(endpoint, method)
    return "\n".join([f'<{name} xmlns:i="{XSI_NAMESPACE}">', *lines, closing]).encode()


def render_state(endpoint: Endpoint, fmt: WireFormat, method: str, state: int) -> bytes:
    """An answer that carries only a request state: ``-1`` for bad credentials, ``-50``..."""
    if fmt == "json":
        return msgspec.json.encode({"state": str(state)})
    return _xml(endpoint, method, [f"  <state>{state}</state>"])


def render_data(
    endpoint: Endpoint, fmt: WireFormat, method: str, data: list[tuple[str, int]]
) -> bytes:
    """A send or status answer: state 0 and one ``(id, state)`` per message or id, in order."""
    if fmt == "json":
        entries = [{"id": message_id, "state": str(state)} for message_id, state in data]
        return msgspec.json.encode({"state": "0", "data": entries})
    lines = ["  <state>0</state>", "  <data>"]
    for message_id, state in data:
        lines.append("    <message>")
        lines.append(f"      <id>{escape(message_id)}</id>" if message_id else "      <id />")
        lines.append(f"      <state>{state}</state>")
        lines.append("    </message>")
    lines.append("  </data>")
    return _xml(endpoint, method, lines)


def format_balance(amount: Decimal) -> str:
    """The document's balance: four decimals and a decimal comma, e.g. ``77212,0000``."""
    return f"{amount.quantize(Decimal('0.0001')):f}".replace(".", ",")


def render_balance(fmt: WireFormat, method: str, amount: Decimal) -> bytes:
    """A balance answer: state 0 and the balance with a decimal comma."""
    balance = format_balance(amount)
    if fmt == "json":
        return msgspec.json.encode({"state": "0", "balance": balance})
    return _xml("credit", method, ["  <state>0</state>", f"  <balance>{balance}</balance>"])


def content_type(fmt: WireFormat) -> str:
    return JSON_CONTENT_TYPE if fmt == "json" else XML_CONTENT_TYPE
