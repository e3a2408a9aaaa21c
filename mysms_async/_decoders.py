"""One decoder per response type, built once and reused.

JSON goes straight into msgspec Structs. XML goes through xmltodict (with entities refused and
``message`` always a list) and then ``msgspec.convert``, so both forms meet the same types and the
same rules. The gateway writes numbers as strings, hence ``strict=False``. Whatever the body holds,
the only error that leaves this module is ``ResponseError``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import msgspec
import xmltodict

from ._config import WireFormat
from ._exceptions import ResponseError


class WireEntry(msgspec.Struct, frozen=True):
    """One ``data`` entry: a message id (empty when not accepted) and its state."""

    state: int
    id: str | None = None


class WireBatch(msgspec.Struct, frozen=True):
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


def decode_batch(body: bytes, wire_format: WireFormat) -> WireBatch:
    """Decode a send or status answer; the caller checks states and ``data``'s length."""
    try:
        if wire_format == "json":
            return _batch_json.decode(_strip_bom(body))
        return msgspec.convert(_xml_batch_fields(body), WireBatch, strict=False)
    except ResponseError:
        raise
    except Exception as exc:
        error = _shape_error(exc, body, wire_format)
    raise error


def decode_balance(body: bytes, wire_format: WireFormat) -> WireBalance:
    try:
        if wire_format == "json":
            answer = _balance_json.decode(_strip_bom(body))
            text = _raw_amount_text(answer.balance)
            state = answer.state
        else:
            xml = msgspec.convert(_xml_root(body), _XmlBalance, strict=False)
            text, state = xml.balance, xml.state
        amount = None if text is None else parse_amount(text)
        return WireBalance(state=state, amount=amount)
    except ResponseError:
        raise
    except Exception as exc:
        error = _shape_error(exc, body, wire_format)
    raise error


def parse_amount(text: str) -> Decimal:
    """``"77212,0000"`` -> ``Decimal("77212.0000")``; grouping spaces are dropped."""
    cleaned = _AMOUNT_SPACES.sub("", text).replace(",", ".")
    # Plain positional digits only: no exponent ("1E+999999999" overflows the caller's sums),
    # no NaN or Infinity.
    if not _AMOUNT.fullmatch(cleaned):
        raise ResponseError(f"balance is not a decimal amount: {text[:40]!r}", status_code=200)
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


def _xml_root(body: bytes) -> dict[str, Any]:
    """The root element's children, whatever the root is called (sendSMS, checkSMS, ...)."""
    if _XML_DECLARATIONS.search(body):
        raise ResponseError("XML answer declares a DOCTYPE or entities; refused, not expanded")
    document = xmltodict.parse(body, force_list=("message",), disable_entities=True)
    if not isinstance(document, dict) or len(document) != 1:
        raise ResponseError("XML answer has no single root element")
    (root,) = document.values()
    if not isinstance(root, dict):
        raise ResponseError("XML answer's root element has no children")
    return root


def _xml_batch_fields(body: bytes) -> dict[str, Any]:
    root = _xml_root(body)
    fields: dict[str, Any] = {"state": root.get("state")}
    data = root.get("data")
    if "data" in root and data is None:
        fields["data"] = []  # <data></data>, as JSON's "data": []
    elif isinstance(data, dict):
        messages = data.get("message") or []
        fields["data"] = [{} if m is None else m for m in messages]
    elif data is not None:
        raise ResponseError("XML answer's <data> holds no <message> elements")
    return fields


def _shape_error(exc: Exception, body: bytes, wire_format: WireFormat) -> ResponseError:
    kind = "JSON" if wire_format == "json" else "XML"
    reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    return ResponseError(
        f"{kind} answer is not of the documented shape: {reason} (body starts {body[:60]!r})",
        status_code=200,
    )
