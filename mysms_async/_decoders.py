"""One decoder per response type, built once and reused.

JSON goes straight into msgspec Structs. XML is read by a small expat reader (DOCTYPE and entity
declarations refused) into plain fields and then ``msgspec.convert``, so both forms meet the
same types and the same rules. The gateway writes numbers as strings, hence ``strict=False``.
Whatever the body holds, the only error that leaves this module is ``ResponseError``, and its
message never quotes the body: an answer may echo the request, password included (a proxy or
debug page), so quoting is left to the transport, which knows the secret (``describe_body``).

A send answer that names one id twice is refused (two messages cannot share an id; a proxy that
answered twice or a shifted list is the likelier story); a status answer may repeat an id its
request repeated (``unique_ids=False``). An XML value split by child elements, comments or
processing instructions (``<state>2<!-- -->0</state>``) is refused, not joined or cut.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, NamedTuple
from xml.parsers import expat

import msgspec

from ._config import WireFormat
from ._exceptions import ResponseError


class WireEntry(msgspec.Struct, frozen=True, gc=False):
    """One ``data`` entry: a message id (empty when not accepted) and its state.

    Untracked (``gc=False``): an int and a string hold no cycle, and a batch of 1000 entries
    should not feed the collector 1000 objects to walk.
    """

    state: int
    id: str | None = None


class WireBatch(msgspec.Struct, frozen=True, gc=False):
    """A send or status answer: the request state, and ``data`` when the request ran."""

    state: int
    data: list[WireEntry] | None = None


class _JsonBalance(msgspec.Struct, frozen=True):
    state: int
    # Raw: the amount must never pass through a float.
    balance: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)


class _XmlBalance(msgspec.Struct, frozen=True):
    state: int
    balance: str | None = None


class WireBalance(msgspec.Struct, frozen=True):
    state: int
    amount: Decimal | None


_batch_json = msgspec.json.Decoder(WireBatch, strict=False)
_balance_json = msgspec.json.Decoder(_JsonBalance, strict=False)
_string_json = msgspec.json.Decoder(str)
_BOM = b"\xef\xbb\xbf"
_XML_DECLARATIONS = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_AMOUNT_SPACES = re.compile(r"[\s\u00a0\u202f]")
_AMOUNT = re.compile(r"[-+]?[0-9]{1,30}(?:\.[0-9]{0,30})?")


def decode_batch(body: bytes, wire_format: WireFormat, *, unique_ids: bool = True) -> WireBatch:
    """Decode a send or status answer; the caller checks states and ``data``'s length.

    ``unique_ids``: refuse an answer that names one id twice (right for a send; a status request
    that repeats an id gets it back twice, so its caller passes False).
    """
    try:
        if wire_format == "json":
            batch = _batch_json.decode(_strip_bom(body))
        else:
            batch = msgspec.convert(_xml_fields(body), WireBatch, strict=False)
    except ResponseError:
        raise
    except Exception as exc:  # any failure to read untrusted bytes is a bad answer
        error = _shape_error(exc, wire_format)
        raise error from None
    if unique_ids and batch.data:
        check_unique_ids([entry.id for entry in batch.data])
    return batch


class SendAnswer(NamedTuple):
    """A send answer with its ids read once (``decode_send``); ``state`` as on ``WireBatch``,
    which is what the transport reads to check the request state."""

    state: int
    data: list[WireEntry] | None
    #: One per ``data`` entry, in order; empty when there is no ``data``.
    ids: list[str | None]
    #: The state every entry has, when they all have the same one (a batch of fresh messages
    #: is all "queued"); else None.
    common_state: int | None = None


def decode_send(body: bytes, wire_format: WireFormat) -> SendAnswer:
    """``decode_batch`` for a send answer, with its ids read once.

    The ids list is what the uniqueness check reads and what the caller builds its results
    from, so the entries are walked once for both. A repeated id is refused as by
    ``decode_batch``.
    """
    batch = decode_batch(body, wire_format, unique_ids=False)
    data = batch.data
    if not data:
        return SendAnswer(batch.state, data, [])
    # One pass reads the ids and checks that every entry has the first one's state (a
    # comprehension reads a field faster than map()); a mixed answer is read again in full.
    common: int | None = data[0].state
    ids = [entry.id for entry in data if entry.state == common]
    if len(ids) != len(data):
        common = None
        ids = [entry.id for entry in data]
    check_unique_ids(ids)
    return SendAnswer(batch.state, data, ids, common)


def check_unique_ids(ids: list[str | None]) -> None:
    """Refuse a list that names one id twice; entries with no id (refused messages) may repeat."""
    if len(set(ids)) == len(ids):
        return  # the common case: one C-level pass per answer
    named = [i for i in ids if i]
    if len(set(named)) != len(named):
        raise ResponseError(
            "answer names one message id more than once; two messages cannot share an id",
            status_code=200,
        )


def decode_balance(body: bytes, wire_format: WireFormat) -> WireBalance:
    try:
        if wire_format == "json":
            answer = _balance_json.decode(_strip_bom(body))
            text = _raw_amount_text(answer.balance)
            state = answer.state
        else:
            xml = msgspec.convert(_xml_fields(body), _XmlBalance, strict=False)
            text, state = xml.balance, xml.state
        amount = None if text is None else parse_amount(text)
        return WireBalance(state=state, amount=amount)
    except ResponseError:
        raise
    except Exception as exc:  # see decode_batch
        error = _shape_error(exc, wire_format)
    raise error


def parse_amount(text: str) -> Decimal:
    """``"77212,0000"`` -> ``Decimal("77212.0000")``; grouping spaces are dropped."""
    cleaned = _AMOUNT_SPACES.sub("", text).replace(",", ".")
    # Plain positional digits only: no exponent ("1E+999999999" overflows the caller's sums),
    # no NaN or Infinity.
    if not _AMOUNT.fullmatch(cleaned):
        # Not quoted: the value comes from the body (see the module docstring).
        raise ResponseError(
            f"balance is not a decimal amount ({len(text)} characters)", status_code=200
        )
    return Decimal(cleaned)


def _raw_amount_text(raw: msgspec.Raw) -> str | None:
    data = bytes(raw)
    if not data or data == b"null":
        return None
    if data.startswith(b'"'):
        return _string_json.decode(data)
    return data.decode("ascii")


def _strip_bom(body: bytes) -> bytes:
    return body[3:] if body.startswith(_BOM) else body


#: The answer is four levels deep; an extra element or two is tolerated, a deep tree is not read.
_MAX_DEPTH = 16


class _XmlAnswer:
    """Reads an answer's fields straight from expat's events; nothing else is kept.

    The answer is two levels deep: the root (whose name varies by endpoint and is ignored),
    its ``state`` / ``balance`` / ``data``, and ``data``'s ``message`` entries with ``id`` and
    ``state``. Reading just that costs a third of what ``xmltodict.parse`` does for the same
    body (2.2 against 7.2 us per entry), and refusing DOCTYPE and entity declarations in the
    parser itself also covers encodings the byte check cannot read, such as UTF-16.
    """

    __slots__ = ("_depth_names", "_entry", "_text", "entries", "fields")

    #: The values read; each must be one run of text.
    _VALUES = frozenset(["state", "balance", "id"])

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self.entries: list[dict[str, str]] = []
        self._depth_names: list[str] = []
        self._entry: dict[str, str] | None = None
        self._text: list[str] = []

    def parse(self, body: bytes) -> dict[str, Any]:
        parser = expat.ParserCreate()
        parser.buffer_text = True
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._text.append
        parser.CommentHandler = self._markup
        parser.ProcessingInstructionHandler = self._markup
        parser.StartDoctypeDeclHandler = _refuse_declarations
        parser.EntityDeclHandler = _refuse_declarations
        parser.Parse(body, True)
        return self.fields

    def _start(self, name: str, attributes: object) -> None:
        names = self._depth_names
        depth = len(names)
        if (depth == 2 or depth == 4) and names[-1] in self._VALUES:
            self._markup()  # an element inside a value: refused there
        elif depth >= _MAX_DEPTH:
            raise ResponseError(
                f"XML answer is nested deeper than {_MAX_DEPTH} levels", status_code=200
            )
        names.append(name)
        self._text.clear()
        if depth == 2 and name == "message" and names[1] == "data":
            self._entry = {}

    def _end(self, name: str) -> None:
        depth = len(self._depth_names)
        if depth == 2:
            if name == "data":
                _put(self.fields, name, self.entries)
            else:
                _put(self.fields, name, "".join(self._text).strip())
        elif depth == 3 and self._entry is not None:
            self.entries.append(self._entry)
            self._entry = None
        elif depth == 4 and self._entry is not None:
            _put(self._entry, name, "".join(self._text).strip())
        self._depth_names.pop()
        self._text.clear()

    def _markup(self, *_: object) -> None:
        """An element, comment or processing instruction has started inside the current one:
        refused when that one is a value we read (its text would be joined or cut short)."""
        names = self._depth_names
        depth = len(names)
        if (depth == 2 or (depth == 4 and self._entry is not None)) and names[-1] in self._VALUES:
            raise ResponseError(
                f"XML answer's <{names[-1]}> is split by markup, not one run of text",
                status_code=200,
            )


def _put(into: dict[str, Any], name: str, value: Any) -> None:
    if name in into:
        raise ResponseError(f"XML answer repeats <{name}>", status_code=200)
    into[name] = value


def _refuse_declarations(*_: object) -> None:
    raise ResponseError(
        "XML answer declares a DOCTYPE or entities; refused, not expanded", status_code=200
    )


def _xml_fields(body: bytes) -> dict[str, Any]:
    """The root element's fields, whatever the root is called (sendSMS, checkSMS, ...)."""
    if _XML_DECLARATIONS.search(body):
        _refuse_declarations()
    return _XmlAnswer().parse(body)


def _shape_error(exc: Exception, wire_format: WireFormat) -> ResponseError:
    """msgspec's and expat's messages name a path or a position, never the bytes found there."""
    kind = "JSON" if wire_format == "json" else "XML"
    reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    return ResponseError(f"{kind} answer is not of the documented shape: {reason}", status_code=200)
