"""Validation and the request builder: GET query strings, JSON bodies and XML bodies.

Every rule is checked here, before any I/O, and every failure names the field and the rule.
The builders are the hot path of bulk sends, so they avoid generic machinery: JSON goes through
one reused msgspec encoder, and XML through an escape-and-join builder (``xmltodict.unparse``
costs about 16x as much for the same body and writes control characters raw).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import msgspec

from . import _constants as C
from ._config import Credentials, HttpMethod, WireFormat
from ._exceptions import ValidationError
from ._models import Message

Operation = Literal["send", "status", "credit"]

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
XML_CONTENT_TYPE = "application/xml; charset=utf-8"

_DESTINATION = re.compile(rf"[0-9]{{{C.DESTINATION_MIN_DIGITS},{C.DESTINATION_MAX_DIGITS}}}")
_DESTINATION_DECORATION = re.compile(r"[\s\-().]")
# C0 and C1 controls other than tab, newline and carriage return; lone surrogates (not UTF-8);
# U+FFFE/U+FFFF (not XML characters). XML 1.0 cannot carry any of them.
_FORBIDDEN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_SENDER_DIGITS = re.compile(rf"[0-9]{{1,{C.SENDER_MAX_DIGITS}}}")
# Latin letters and digits with at least one letter; '.', '-', '_' and inner spaces, as
# alphanumeric sender names on the networks allow.
_SENDER_LATIN = re.compile(rf"(?=[0-9 ._\-]*[A-Za-z])[A-Za-z0-9 ._\-]{{1,{C.SENDER_MAX_LATIN}}}")
_MESSAGE_ID = re.compile(r"[^\s\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]{1,128}")


class WireMessage(msgspec.Struct, omit_defaults=True, frozen=True, kw_only=True):
    """One message as the gateway's document spells it; unset optional fields are left out."""

    source: str | None = None
    destination: str
    text: str
    date: str | None = None
    ttl: str | None = None


class _WireId(msgspec.Struct, frozen=True):
    id: str


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """What the transport sends: no I/O has happened yet."""

    operation: Operation
    method: HttpMethod
    path: str
    # Both carry the password: never in a repr.
    params: tuple[tuple[str, str], ...] | None = field(repr=False)
    content: bytes | None = field(repr=False)
    content_type: str | None
    count: int


# ---------------------------------------------------------------------------------------------
# Field rules


def normalise_destination(value: object) -> str:
    """Digits only: "+7 (911) 222-33-33" becomes "79112223333"."""
    if type(value) is str and _DESTINATION.fullmatch(value):
        return value  # the common case in bulk sends: already normalised
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValidationError("destination", "must be a string of digits", value)
    stripped = value.strip()
    if stripped.startswith("+"):
        stripped = stripped[1:]
    digits = _DESTINATION_DECORATION.sub("", stripped)
    if not digits.isascii() or not digits.isdigit():
        raise ValidationError(
            "destination",
            "may contain only digits, spaces, dashes, dots, parentheses and a leading +",
            value,
        )
    if not _DESTINATION.fullmatch(digits):
        raise ValidationError(
            "destination",
            f"must have {C.DESTINATION_MIN_DIGITS} to {C.DESTINATION_MAX_DIGITS} digits"
            " (country code, network code, number)",
            value,
        )
    return digits


def validate_sender(value: object) -> str:
    """At most 11 Latin characters, or at most 15 digits (the gateway's rule)."""
    if not isinstance(value, str):
        raise ValidationError("sender", "must be a string", value)
    return _validate_sender(value)


@functools.lru_cache(maxsize=256)  # a campaign uses a handful of senders: check each once
def _validate_sender(value: str) -> str:
    if _SENDER_DIGITS.fullmatch(value):
        return value
    if value.isdigit():
        raise ValidationError(
            "sender", f"a numeric sender has at most {C.SENDER_MAX_DIGITS} digits"
        )
    if not _SENDER_LATIN.fullmatch(value) or value.strip() != value:
        raise ValidationError(
            "sender",
            f"must be 1 to {C.SENDER_MAX_LATIN} Latin letters, digits, inner spaces or '.-_'"
            f" with at least one letter (or up to {C.SENDER_MAX_DIGITS} digits)",
            value,
        )
    return value


def check_xml_safe(field: str, value: str) -> None:
    """Refuse what XML 1.0 or UTF-8 cannot carry; the value itself is not echoed (secrets)."""
    bad = _FORBIDDEN_TEXT.search(value)
    if bad is not None:
        raise ValidationError(
            field,
            f"must not contain character U+{ord(bad.group()):04X} (position {bad.start()}):"
            " control characters other than tab, newline and carriage return, lone"
            " surrogates and U+FFFE/U+FFFF cannot be sent",
        )


def validate_text(value: object) -> str:
    if not isinstance(value, str):
        raise ValidationError("text", "must be a string", value)
    if not value:
        raise ValidationError("text", "must not be empty")
    check_xml_safe("text", value)
    return value


def format_date(value: object, timezone: dt.tzinfo) -> str:
    """Aware datetimes move to the gateway's zone; naive ones are sent as written."""
    if not isinstance(value, dt.datetime):
        raise ValidationError("date", "must be a datetime", value)
    if value.tzinfo is not None and value.utcoffset() is not None:
        try:
            value = value.astimezone(timezone)
        except OverflowError:
            raise ValidationError(
                "date", "is out of range once moved to the gateway's time zone", value
            ) from None
    # Field by field, not strftime: glibc writes year 999 as "999", and the rule is dd.MM.yyyy.
    return (
        f"{value.day:02d}.{value.month:02d}.{value.year:04d}"
        f" {value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    )


def format_ttl(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError("ttl", "must be an integer", value)
    if not 0 < value <= C.MAX_TTL:
        raise ValidationError("ttl", f"must be between 1 and {C.MAX_TTL}", value)
    return str(value)


def validate_message_id(value: object) -> str:
    if not isinstance(value, str) or not _MESSAGE_ID.fullmatch(value):
        raise ValidationError(
            "message_id", "must be a non-empty string without spaces or control characters", value
        )
    return value


def to_wire(message: Message, default_sender: str | None, timezone: dt.tzinfo) -> WireMessage:
    """Check every field of one message and spell it as the gateway wants it."""
    if not isinstance(message, Message):
        raise ValidationError("message", "must be a mysms_async.Message", message)
    sender = message.sender if message.sender is not None else default_sender
    return WireMessage(
        destination=normalise_destination(message.destination),
        text=validate_text(message.text),
        source=None if sender is None else validate_sender(sender),
        date=None if message.date is None else format_date(message.date, timezone),
        ttl=None if message.ttl is None else format_ttl(message.ttl),
    )


_DESTINATION_LINES = re.compile(
    rf"(?:[0-9]{{{C.DESTINATION_MIN_DIGITS},{C.DESTINATION_MAX_DIGITS}}}\n)*"
    rf"[0-9]{{{C.DESTINATION_MIN_DIGITS},{C.DESTINATION_MAX_DIGITS}}}"
)


def wire_many(
    messages: list[Message], default_sender: str | None, timezone: dt.tzinfo
) -> list[WireMessage] | None:
    """Validate a whole chunk in a few C-level passes; None when any message needs a closer look.

    Bulk sends are mostly plain: normalised destinations, ordinary texts, one sender. Checking
    the chunk's destinations and texts joined costs a third of checking them one by one. When
    anything is off (a decorated number, a control character, a date), the caller falls back
    to ``to_wire`` per message, which also says which message broke which rule.
    """
    if not all([type(m) is Message for m in messages]):
        return None
    try:
        destinations = "\n".join([m.destination for m in messages])
        texts = "".join([m.text for m in messages])
        senders = {m.sender for m in messages}
    except TypeError:
        return None  # a field of the wrong type
    if (
        # As many lines as messages: a destination holding a newline must not pass as two.
        destinations.count("\n") != len(messages) - 1
        or not _DESTINATION_LINES.fullmatch(destinations)
        or _FORBIDDEN_TEXT.search(texts)
        or not all([m.text for m in messages])
        or any([m.date is not None or m.ttl is not None for m in messages])
    ):
        return None
    sources: dict[str | None, str | None] = {}
    for sender in senders:
        chosen = sender if sender is not None else default_sender
        if chosen is not None and not isinstance(chosen, str):
            return None
        try:
            sources[sender] = None if chosen is None else validate_sender(chosen)
        except ValidationError:
            return None
    return [
        WireMessage(source=sources[m.sender], destination=m.destination, text=m.text)
        for m in messages
    ]


# ---------------------------------------------------------------------------------------------
# Bodies


def xml_escape(value: str) -> str:
    """Escape for element content; ``\\r`` as a reference so that parsers do not fold it."""
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    if "\r" in value:
        value = value.replace("\r", "&#13;")
    return value


_json_encoder = msgspec.json.Encoder()


class RequestBuilder:
    """Builds the twelve endpoints' requests for one account and one wire form."""

    __slots__ = (
        "_credentials",
        "_json_auth",
        "_method",
        "_xml_auth",
        "format",
    )

    def __init__(self, credentials: Credentials, wire_format: WireFormat, method: HttpMethod):
        self._credentials = credentials
        self.format = wire_format
        self._method: HttpMethod = method
        # The auth part is the same in every body: encode it once.
        self._json_auth = _json_encoder.encode(
            {"username": credentials.username, "password": credentials.password}
        )
        self._xml_auth = (
            f"<auth><username>{xml_escape(credentials.username)}</username>"
            f"<password>{xml_escape(credentials.password)}</password></auth>"
        )

    def __repr__(self) -> str:
        return f"RequestBuilder(username={self._credentials.username!r}, format={self.format!r})"

    @property
    def method(self) -> HttpMethod:
        return self._method

    def _path(self, operation: Operation) -> str:
        return f"{operation}/{self.format}"

    def _auth_params(self) -> list[tuple[str, str]]:
        return [("u", self._credentials.username), ("p", self._credentials.password)]

    def _post(self, operation: Operation, content: bytes, count: int) -> PreparedRequest:
        content_type = JSON_CONTENT_TYPE if self.format == "json" else XML_CONTENT_TYPE
        return PreparedRequest(
            operation, "POST", self._path(operation), None, content, content_type, count
        )

    def _get(
        self, operation: Operation, params: list[tuple[str, str]], count: int
    ) -> PreparedRequest:
        return PreparedRequest(
            operation, "GET", self._path(operation), tuple(params), None, None, count
        )

    # send ------------------------------------------------------------------------------------

    def send(self, messages: Sequence[WireMessage]) -> PreparedRequest:
        """One POST for many messages, or one GET for exactly one."""
        if self._method == "GET":
            if len(messages) != 1:
                raise ValueError("a GET send carries exactly one message")
            return self._get("send", self._send_params(messages[0]), 1)
        if self.format == "json":
            body = b'{"auth":%s,"data":%s}' % (self._json_auth, _json_encoder.encode(messages))
        else:
            body = self._send_xml(messages)
        return self._post("send", body, len(messages))

    def _send_params(self, message: WireMessage) -> list[tuple[str, str]]:
        params = self._auth_params()
        if message.source is not None:
            params.append(("s", message.source))
        params.append(("d", message.destination))
        params.append(("t", message.text))
        if message.date is not None:
            params.append(("date", message.date))
        if message.ttl is not None:
            params.append(("ttl", message.ttl))
        return params

    def _send_xml(self, messages: Sequence[WireMessage]) -> bytes:
        parts = ["<sendSMS>", self._xml_auth, "<data>"]
        append = parts.append
        for message in messages:
            append("<message>")
            if message.source is not None:
                append(f"<source>{xml_escape(message.source)}</source>")
            append(f"<destination>{message.destination}</destination>")
            append(f"<text>{xml_escape(message.text)}</text>")
            if message.date is not None:
                append(f"<date>{message.date}</date>")
            if message.ttl is not None:
                append(f"<ttl>{message.ttl}</ttl>")
            append("</message>")
        append("</data></sendSMS>")
        return "".join(parts).encode()

    # status ----------------------------------------------------------------------------------

    def status(self, ids: Sequence[str], sender: str | None = None) -> PreparedRequest:
        if self._method == "GET":
            if len(ids) != 1:
                raise ValueError("a GET status carries exactly one id")
            params = self._auth_params()
            if sender is not None:
                params.append(("s", sender))
            params.append(("id", ids[0]))
            return self._get("status", params, 1)
        if self.format == "json":
            data = _json_encoder.encode([_WireId(i) for i in ids])
            body = b'{"auth":%s,"data":%s}' % (self._json_auth, data)
        else:
            items = "".join(f"<message><id>{xml_escape(i)}</id></message>" for i in ids)
            body = f"<checkSMS>{self._xml_auth}<data>{items}</data></checkSMS>".encode()
        return self._post("status", body, len(ids))

    # balance ---------------------------------------------------------------------------------

    def credit(self) -> PreparedRequest:
        if self._method == "GET":
            return self._get("credit", self._auth_params(), 0)
        if self.format == "json":
            body = b'{"auth":%s}' % self._json_auth
        else:
            body = f"<getBalance>{self._xml_auth}</getBalance>".encode()
        return self._post("credit", body, 0)
