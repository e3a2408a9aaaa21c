"""Validation and the request builder: GET query strings, JSON bodies and XML bodies.

Every rule is checked here, before any I/O, and every failure names the field and the rule.
Values leave validation as plain ``str`` (``plain_str``): msgspec cannot encode a subclass.
The builders are the hot path of bulk sends, so they avoid generic machinery: JSON goes through
one reused msgspec encoder, and XML through an escape-and-join builder (``xmltodict.unparse``
costs about 16x as much for the same body and writes control characters raw).

A chunk of plain messages is validated by ``wire_many`` in a few C-level passes (``map`` over
attribute getters, joined strings, ``str.isdigit``/``isprintable``), not a Python loop per
message; any message it cannot vouch for sends the chunk back to ``to_wire``, one by one. For a
JSON POST, a plain chunk's ``data`` array is written by joining its checked values
(``EncodedWires``): no ``WireMessage`` per message, and no encoder walk over them.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterator, Sequence
from itertools import repeat
from operator import attrgetter
from typing import Literal, overload
from urllib.parse import quote_plus

import msgspec

from . import _constants as C
from ._config import Credentials, HttpMethod, WireFormat
from ._exceptions import ValidationError
from ._models import Message
from ._segments import UCS2_MULTI, UCS2_SINGLE, segments
from ._textrules import ASCII_FORBIDDEN, check_xml_safe, is_xml_safe, plain_str

__all__ = [
    "EncodedWires",
    "PreparedRequest",
    "RequestBuilder",
    "WireMessage",
    "check_parts",
    "check_xml_safe",  # re-exported: it lives in _textrules, a module _config can import
    "format_date",
    "format_ttl",
    "normalise_destination",
    "to_wire",
    "validate_message_id",
    "validate_sender",
    "validate_text",
    "wire_many",
]

Operation = Literal["send", "status", "credit"]

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
XML_CONTENT_TYPE = "application/xml; charset=utf-8"

_DESTINATION_LENGTHS = frozenset(range(C.DESTINATION_MIN_DIGITS, C.DESTINATION_MAX_DIGITS + 1))
_DESTINATION_DECORATION = re.compile(r"[\s\-().]")
_SENDER_DIGITS = re.compile(rf"[0-9]{{1,{C.SENDER_MAX_DIGITS}}}")
# Latin letters and digits with at least one letter; '.', '-', '_' and inner spaces, as
# alphanumeric sender names on the networks allow.
_SENDER_LATIN = re.compile(rf"(?=[0-9 ._\-]*[A-Za-z])[A-Za-z0-9 ._\-]{{1,{C.SENDER_MAX_LATIN}}}")
_MESSAGE_ID = re.compile(r"[^\s\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]{1,128}")


class WireMessage(msgspec.Struct, omit_defaults=True, frozen=True, gc=False):
    """One message as the gateway's document spells it; unset optional fields are left out.

    Positional (source, destination, text, date, ttl) so that ``wire_many`` can build a chunk
    with one ``map``; every field has a default only so that ``omit_defaults`` can leave an
    unset one out (validation never lets destination or text be empty). Strings only, so the
    collector need not track it (``gc=False``).
    """

    source: str | None = None
    destination: str = ""
    text: str = ""
    date: str | None = None
    ttl: str | None = None


class _WireId(msgspec.Struct, frozen=True, gc=False):
    id: str


class PreparedRequest(msgspec.Struct, frozen=True, gc=False):
    """What the transport sends: no I/O has happened yet.

    A frozen msgspec Struct (built in a tenth of a frozen dataclass's time, which sets each
    field through ``object.__setattr__``); strings, bytes and tuples of strings only, so the
    collector need not track it.
    """

    operation: Operation
    method: HttpMethod
    path: str
    # Both carry the password: never in a repr.
    params: tuple[tuple[str, str], ...] | None
    content: bytes | None
    content_type: str | None
    count: int

    def __repr__(self) -> str:
        return (
            f"PreparedRequest(operation={self.operation!r}, method={self.method!r},"
            f" path={self.path!r}, content_type={self.content_type!r}, count={self.count!r})"
        )


# ---------------------------------------------------------------------------------------------
# Field rules


def normalise_destination(value: object) -> str:
    """Digits only: "+7 (911) 222-33-33" becomes "79112223333"."""
    if (
        type(value) is str
        and len(value) in _DESTINATION_LENGTHS
        and value.isascii()
        and value.isdigit()
    ):
        return value  # the common case: already normalised (a regex costs 3x these checks)
    if isinstance(value, int) and not isinstance(value, bool):
        value = int.__repr__(value)  # an int subclass's own __str__ is not trusted
    if not isinstance(value, str):
        raise ValidationError("destination", "must be a string of digits", value)
    value = plain_str(value)
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
    if len(digits) not in _DESTINATION_LENGTHS:
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
    # Plain before the cache: a subclass's own __hash__/__eq__ must not decide a cache hit.
    return _validate_sender(plain_str(value))


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


def validate_text(value: object) -> str:
    """A non-blank string XML can carry (a text of only whitespace is empty on a phone)."""
    if not isinstance(value, str):
        raise ValidationError("text", "must be a string", value)
    value = plain_str(value)
    if not value or value.isspace():
        raise ValidationError("text", "must not be empty")  # blank is empty too
    check_xml_safe("text", value)
    return value


def _safe_length(max_parts: int) -> int:
    """Characters that surely fit in ``max_parts`` parts: a character costs at most 2 units
    (a GSM-7 extension, a UTF-16 surrogate pair), and such a pair never straddles two parts,
    which wastes at most 1 unit per part (``_segments``)."""
    capacity = UCS2_SINGLE if max_parts == 1 else (UCS2_MULTI - 1) * max_parts
    return capacity // 2


def check_parts(text: str, max_parts: int | None) -> None:
    """Refuse a text that needs more SMS parts than ``max_parts`` (None: no limit)."""
    if max_parts is None or len(text) <= _safe_length(max_parts):
        return
    parts = segments(text).parts
    if parts > max_parts:
        raise ValidationError(
            "text",
            f"needs {parts} SMS parts, more than max_parts={max_parts} (each part is charged):"
            " shorten it, or raise max_parts (None for no limit)",
        )


def format_date(value: object, timezone: dt.tzinfo) -> str:
    """Aware datetimes move to the gateway's zone; naive ones are sent as written."""
    if not isinstance(value, dt.datetime):
        raise ValidationError("date", "must be a datetime", value)
    try:
        if value.tzinfo is not None and value.utcoffset() is not None:
            try:
                value = value.astimezone(timezone)
            except OverflowError:
                raise ValidationError(
                    "date", "is out of range once moved to the gateway's time zone", value
                ) from None
        # Field by field, not strftime: glibc writes year 999 as "999", and the rule is
        # dd.MM.yyyy. The fields are read through int.__index__: a datetime subclass (pendulum,
        # arrow, freezegun) must still spell plain digits.
        fields = [int.__index__(part) for part in _date_parts(value)]
    except (TypeError, ValueError, AttributeError) as exc:
        raise ValidationError(
            "date", f"cannot be read as a datetime ({type(exc).__name__})"
        ) from None
    day, month, year, hour, minute, second = fields
    return f"{day:02d}.{month:02d}.{year:04d} {hour:02d}:{minute:02d}:{second:02d}"


def _date_parts(value: dt.datetime) -> tuple[int, ...]:
    return (value.day, value.month, value.year, value.hour, value.minute, value.second)


def format_ttl(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError("ttl", "must be an integer", value)
    value = int.__index__(value)  # an int subclass's own __str__ / __lt__ are not trusted
    if not 0 < value <= C.MAX_TTL:
        raise ValidationError("ttl", f"must be between 1 and {C.MAX_TTL}", value)
    return str(value)


def validate_message_id(value: object) -> str:
    if isinstance(value, str):
        value = plain_str(value)
        if _MESSAGE_ID.fullmatch(value):
            return value
    raise ValidationError(
        "message_id", "must be a non-empty string without spaces or control characters", value
    )


def to_wire(
    message: Message,
    default_sender: str | None,
    timezone: dt.tzinfo,
    *,
    query_budget: int | None = None,
    max_parts: int | None = None,
) -> WireMessage:
    """Check every field of one message and spell it as the gateway wants it.

    ``query_budget`` (``RequestBuilder.query_budget``: None for POST) is how many bytes of a
    GET query the message's own parameters may take; a longer message is refused here, and
    so is a text needing more than ``max_parts`` SMS parts (checked first: with the default
    limit it is the tighter one, and POST would not lift it).
    """
    if not isinstance(message, Message):
        raise ValidationError("message", "must be a mysms_async.Message", message)
    sender = message.sender if message.sender is not None else default_sender
    wire = WireMessage(
        None if sender is None else validate_sender(sender),
        normalise_destination(message.destination),
        validate_text(message.text),
        None if message.date is None else format_date(message.date, timezone),
        None if message.ttl is None else format_ttl(message.ttl),
    )
    check_parts(wire.text, max_parts)
    if query_budget is not None:
        _check_query_budget(wire, query_budget)
    return wire


# ---------------------------------------------------------------------------------------------
# GET: the length of the URL


def _encoded_length(value: str) -> int:
    """Bytes of ``value`` in a query string as httpx writes it (RFC 3986 unreserved kept, space
    as '+', every other UTF-8 byte as %XX): the same as ``quote_plus(value, safe="")``."""
    return len(quote_plus(value, safe=""))


def query_length(params: Sequence[tuple[str, str]]) -> int:
    """Bytes of the query string ``k=v&k=v...`` these parameters make."""
    return sum([len(key) + 2 + _encoded_length(value) for key, value in params]) - 1


def _message_params(wire: WireMessage) -> list[tuple[str, str]]:
    params = []
    if wire.source is not None:
        params.append(("s", wire.source))
    params.append(("d", wire.destination))
    params.append(("t", wire.text))
    if wire.date is not None:
        params.append(("date", wire.date))
    if wire.ttl is not None:
        params.append(("ttl", wire.ttl))
    return params


def _query_too_long(length: int) -> ValidationError:
    return ValidationError(
        "text",
        f"makes a GET query of {length} bytes once percent-encoded, over the limit of"
        f" {C.MAX_GET_QUERY_BYTES} (MAX_GET_QUERY_BYTES; servers and proxies refuse longer"
        " request lines): send it with http_method='POST'",
    )


def _check_query_budget(wire: WireMessage, budget: int) -> None:
    # Cheap bound first: one character is at most 4 UTF-8 bytes, 12 once percent-encoded.
    bound = 12 * (len(wire.text) + len(wire.source or "")) + 64
    if bound <= budget:
        return
    length = query_length(_message_params(wire)) + 1  # and the '&' joining it to the auth
    if length > budget:
        raise _query_too_long(length + C.MAX_GET_QUERY_BYTES - budget)


# ---------------------------------------------------------------------------------------------
# A chunk at once

_type = type
_get_sender = attrgetter("sender")


def _plain_texts(
    messages: list[Message],
    _type: type[type] = type,
    _message: type[Message] = Message,
    _str: type[str] = str,
    _lengths: frozenset[int] = _DESTINATION_LENGTHS,
) -> list[str]:
    """The texts of the messages ``wire_many`` can vouch for in its passes: all of them (same
    length as ``messages``) in a plain chunk, fewer when any message needs the slow path.

    One comprehension checks every per-message rule it can and collects the texts on the way:
    on CPython 3.11+ an attribute read inlined in a list comprehension costs less than a map()
    over an attrgetter, and one pass less than a C-level pass per rule. The names it uses are
    this function's defaults: a comprehension reads its enclosing function's names faster than
    module globals.
    """
    return [
        m.text
        for m in messages
        if _type(m) is _message
        and m.date is None
        and m.ttl is None
        and _type(m.destination) is _str
        and _type(m.text) is _str
        and m.text
        and not m.text.isspace()
        and len(m.destination) in _lengths
    ]


def _chunk_source(sender: object, default_sender: str | None) -> str | None:
    """The checked ``source`` of a chunk's messages whose own sender is ``sender``.

    Raises ``ValidationError`` for a sender that is not an exact valid ``str``: ``wire_many``
    then hands the chunk to ``to_wire``, which names the field (and copies a subclass).
    """
    chosen = sender if sender is not None else default_sender
    if chosen is None:
        return None
    if _type(chosen) is not str:
        raise ValidationError("sender", "must be a string")
    return validate_sender(chosen)


def wire_many(
    messages: list[Message],
    default_sender: str | None,
    timezone: dt.tzinfo,
    *,
    query_budget: int | None = None,
    max_parts: int | None = None,
    json: bool = False,
) -> list[WireMessage] | EncodedWires | None:
    """Validate a whole chunk in a few passes; None when any message needs a closer look.

    Bulk sends are mostly plain: normalised destinations, ordinary texts, one sender, no date
    or ttl. One comprehension checks what is per message (exact ``Message`` and ``str`` types,
    so a subclass goes the slow way, which copies it to a plain ``str``; no date or ttl; a
    non-empty text; a destination of 10 to 15 characters); then every destination's digits are
    checked in one joined ``bytes.isdigit``, the texts joined by ``is_xml_safe``, and each
    distinct sender once; a text longer than surely fits ``max_parts`` parts is counted.
    When anything is off, the caller falls back to ``to_wire`` per message, which also says
    which message broke which rule. ``timezone`` is unused here (no dates pass this way); it
    keeps the signature of ``to_wire``.

    ``json=True`` (a JSON POST body): a chunk with one source whose texts need no JSON escaping
    comes back as ``EncodedWires``, its ``data`` array already written (``_plain_json``) and no
    ``WireMessage`` made; the structs and msgspec's walk over them were a third of the cost of
    a plain message. Any other chunk comes back as a list, as without it.
    """
    count = len(messages)
    if not count:
        return []
    texts = _plain_texts(messages)
    if len(texts) != count:
        return None
    destinations = [m.destination for m in messages]
    try:
        senders = {m.sender for m in messages}
    except TypeError:
        return None  # an unhashable sender: the slow path names the field
    # bytes.isdigit is ten times faster than str.isdigit, and encoding refuses non-ASCII digits.
    try:
        if not "".join(destinations).encode("ascii").isdigit():
            return None
    except UnicodeEncodeError:
        return None
    if max_parts is not None and max(map(len, texts)) > _safe_length(max_parts):
        try:
            for text in texts:
                check_parts(text, max_parts)
        except ValidationError:
            return None
    try:
        sources = {sender: _chunk_source(sender, default_sender) for sender in senders}
    except ValidationError:
        return None  # the slow path names the field
    joined = "".join(texts)
    if json and len(sources) == 1 and query_budget is None and _json_raw(joined):
        (source,) = sources.values()
        return EncodedWires(messages, source, _plain_json(source, destinations, texts))
    if not is_xml_safe(joined):
        return None
    if len(sources) == 1:
        (source,) = sources.values()
        wires = list(map(WireMessage, repeat(source, count), destinations, texts))
    else:
        chunk_sources = map(sources.__getitem__, map(_get_sender, messages))
        wires = list(map(WireMessage, chunk_sources, destinations, texts))
    if query_budget is not None:
        try:
            for wire in wires:
                _check_query_budget(wire, query_budget)
        except ValidationError:
            return None
    return wires


class EncodedWires(Sequence[WireMessage]):
    """A plain chunk whose JSON ``data`` array is already written (``wire_many(json=True)``).

    ``json`` is, byte for byte, what msgspec writes for the chunk's ``WireMessage`` list; the
    structs themselves are made only when something asks for them (the XML or GET builder,
    isolating an unbuildable message), from the same checked values.
    """

    __slots__ = ("_messages", "_source", "_wires", "json")

    def __init__(self, messages: list[Message], source: str | None, json: bytes) -> None:
        self._messages = messages
        self._source = source
        self._wires: list[WireMessage] | None = None
        #: The JSON array of the chunk's messages as the gateway's document spells them.
        self.json = json

    def _all(self) -> list[WireMessage]:
        wires = self._wires
        if wires is None:
            source = self._source
            wires = self._wires = [
                WireMessage(source, m.destination, m.text) for m in self._messages
            ]
        return wires

    def __len__(self) -> int:
        return len(self._messages)

    @overload
    def __getitem__(self, index: int) -> WireMessage: ...

    @overload
    def __getitem__(self, index: slice) -> list[WireMessage]: ...

    def __getitem__(self, index: int | slice) -> WireMessage | list[WireMessage]:
        return self._all()[index]

    def __iter__(self) -> Iterator[WireMessage]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EncodedWires):
            return self._all() == other._all()
        if isinstance(other, list):
            return self._all() == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"EncodedWires({self._all()!r})"


#: ASCII bytes a text copied raw into a JSON string must not hold: what msgspec escapes (C0
#: controls, the quote, the backslash) and what XML cannot carry (``ASCII_FORBIDDEN``).
_JSON_RAW_FORBIDDEN = bytes(sorted({*ASCII_FORBIDDEN, *b'\t\n\r"\\'}))
_JSON_MID = '","text":"'
_JSON_TAIL = '"}'
_json_heads: dict[str | None, str] = {}


def _json_raw(texts: str) -> bool:
    """The texts (joined) are XML-safe and need no JSON escaping: they can be copied as they are.

    ASCII: one ``bytes.translate`` (as ``is_xml_safe``). Beyond ASCII, a printable string holds
    no control character, lone surrogate or U+FFFE/U+FFFF; a False here only means the texts
    go the struct way, where ``is_xml_safe`` decides.
    """
    if texts.isascii():
        data = texts.encode("ascii")
        return len(data.translate(None, _JSON_RAW_FORBIDDEN)) == len(data)
    return texts.isprintable() and '"' not in texts and "\\" not in texts


def _json_head(source: str | None) -> str:
    """``{"source":"...","destination":"`` (no ``source`` when None), spelled once per sender."""
    head = _json_heads.get(source)
    if head is None:
        if len(_json_heads) >= 256:
            _json_heads.clear()
        spelled = "" if source is None else f'"source":{_json_encoder.encode(source).decode()},'
        head = _json_heads[source] = f'{{{spelled}"destination":"'
    return head


def _plain_json(source: str | None, destinations: list[str], texts: list[str]) -> bytes:
    """The JSON ``data`` array of checked plain messages whose texts ``_json_raw`` vouched for.

    Byte for byte what msgspec writes for ``WireMessage(source, destination, text)`` each: the
    same keys in the same order, no spaces, and strings that need no escaping copied as they
    are (destinations are digits; the source is a checked sender, spelled by msgspec).
    """
    head = _json_head(source)
    parts: list[str | None] = [None, _JSON_MID, None, _JSON_TAIL + "," + head] * len(texts)
    parts[0::4] = destinations
    parts[2::4] = texts
    parts[-1] = _JSON_TAIL + "]"
    return ("[" + head + "".join(parts)).encode()  # type: ignore[arg-type]


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
        "_auth_params",
        "_json_auth",
        "_method",
        "_username",
        "_xml_auth",
        "format",
        "query_budget",
    )

    def __init__(self, credentials: Credentials, wire_format: WireFormat, method: HttpMethod):
        username = plain_str(credentials.username)
        password = plain_str(credentials.password)
        self._username = username
        self.format = wire_format
        self._method: HttpMethod = method
        # The auth part is the same in every request: spell it once.
        self._auth_params = (("u", username), ("p", password))
        self._json_auth = _json_encoder.encode({"username": username, "password": password})
        self._xml_auth = (
            f"<auth><username>{xml_escape(username)}</username>"
            f"<password>{xml_escape(password)}</password></auth>"
        )
        #: Bytes of a GET query left for one message's own parameters (None for POST): what
        #: ``to_wire`` and ``wire_many`` take as ``query_budget``.
        self.query_budget: int | None = (
            None if method != "GET" else C.MAX_GET_QUERY_BYTES - query_length(self._auth_params)
        )

    def __repr__(self) -> str:
        return f"RequestBuilder(username={self._username!r}, format={self.format!r})"

    @property
    def method(self) -> HttpMethod:
        return self._method

    def _path(self, operation: Operation) -> str:
        return f"{operation}/{self.format}"

    def _post(self, operation: Operation, content: bytes, count: int) -> PreparedRequest:
        content_type = JSON_CONTENT_TYPE if self.format == "json" else XML_CONTENT_TYPE
        return PreparedRequest(
            operation, "POST", self._path(operation), None, content, content_type, count
        )

    def _get(
        self, operation: Operation, params: list[tuple[str, str]], count: int, field: str
    ) -> PreparedRequest:
        """A GET whose URL would be longer than servers accept is refused before any I/O
        (httpx itself raises ``InvalidURL`` only past 64 KiB, after the pool was entered)."""
        length = query_length(params)
        if length > C.MAX_GET_QUERY_BYTES:
            error = _query_too_long(length)
            if field != "text":
                error = ValidationError(field, error.rule)
            raise error
        return PreparedRequest(
            operation, "GET", self._path(operation), tuple(params), None, None, count
        )

    # send ------------------------------------------------------------------------------------

    def send(self, messages: Sequence[WireMessage]) -> PreparedRequest:
        """One POST for many messages, or one GET for exactly one."""
        if self._method == "GET":
            if len(messages) != 1:
                raise ValueError("a GET send carries exactly one message")
            params = [*self._auth_params, *_message_params(messages[0])]
            return self._get("send", params, 1, "text")
        if self.format == "json":
            data = (
                messages.json if type(messages) is EncodedWires else _json_encoder.encode(messages)
            )
            body = b'{"auth":%s,"data":%s}' % (self._json_auth, data)
        else:
            body = self._send_xml(messages)
        return self._post("send", body, len(messages))

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
            params = list(self._auth_params)
            if sender is not None:
                params.append(("s", sender))
            params.append(("id", ids[0]))
            return self._get("status", params, 1, "credentials")
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
            return self._get("credit", list(self._auth_params), 0, "credentials")
        if self.format == "json":
            body = b'{"auth":%s}' % self._json_auth
        else:
            body = f"<getBalance>{self._xml_auth}</getBalance>".encode()
        return self._post("credit", body, 0)
