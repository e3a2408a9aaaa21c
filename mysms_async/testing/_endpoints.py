"""The emulator's endpoint handlers: a parsed request carried out, and the document's answer.

The rules a send is held to, per message, in this order (the first that fails gives the state,
and the message is not accepted: its ``id`` is an empty string and nothing is charged):

=====  ======================================================================================
-11    the sender is missing, malformed (at most 11 Latin letters, digits, inner spaces and
       ``.-_`` with at least one letter, or at most 15 digits), or not registered for the account
-12    the destination is missing or not 10 to 15 digits
-14    the text is missing or empty (the document names no code; an empty SMS cannot be sent)
-15    the date is given and is not a real ``dd.MM.yyyy HH:mm:ss``
-16    the ttl is given and is not a positive integer written in decimal (no sign, no leading 0)
-13    the balance does not cover the message: its parts (:func:`mysms_async.segments`) times
       ``price_per_part``; the balance never goes below zero
=====  ======================================================================================

A status request answers each id in order; an id that is unknown, forgotten (``max_records``),
or another account's is answered ``-10`` with an empty id (ids are matched exactly; a GET's ``s``
is accepted and ignored). Wrong or missing credentials answer the request state ``-1`` with no
data, for every endpoint, as the real gateway does.

With ``strict`` (the default), what a careful client never sends answers HTTP 400 with the reason:
an unknown or repeated query parameter, a GET with a body, a POST with a query string or the wrong
content type. ``strict=False`` lets these through, for clients of other makes.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from http import HTTPStatus
from typing import Final

from .._segments import segments
from . import _wire
from ._accounts import SENDER, AccountBook, AccountState
from ._asgi import Answer
from ._faults import (
    DataLength,
    EmptyBody,
    Endpoint,
    ErrorState,
    Fault,
    HTMLPage,
    HTTPErrorStatus,
    RawBody,
    WrongShape,
)
from ._records import MessageFields, WireFormat
from ._store import MessageStore

__all__ = ["Endpoints"]

_DESTINATION: Final = re.compile(r"[0-9]{10,15}")
_DATE: Final = re.compile(r"[0-9]{2}\.[0-9]{2}\.[0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_TTL: Final = re.compile(r"[1-9][0-9]*")
_PHRASES: Final = frozenset(status.value for status in HTTPStatus)
_HTML_PAGE: Final = (
    b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    b"<body><h1>502 Bad Gateway</h1><hr><p>nginx</p></body></html>\n"
)
_WRONG_SHAPE: Final[dict[WireFormat, bytes]] = {
    "json": b'{"status": "ok", "result": []}',
    "xml": b"<response><status>ok</status><result /></response>",
}


def _valid_date(value: str) -> bool:
    if not _DATE.fullmatch(value):
        return False
    try:
        datetime.strptime(value, "%d.%m.%Y %H:%M:%S")
    except ValueError:
        return False
    return True


class Endpoints:
    """Parses and carries out requests against the accounts and the message store."""

    def __init__(
        self, accounts: AccountBook, store: MessageStore, price_per_part: Decimal, *, strict: bool
    ) -> None:
        self.accounts = accounts
        self.store = store
        self.price_per_part = price_per_part
        self.strict = strict

    def parse(
        self,
        method: str,
        endpoint: Endpoint,
        fmt: WireFormat,
        headers: tuple[tuple[str, str], ...],
        query: tuple[tuple[str, str], ...],
        body: bytes,
    ) -> _wire.ParsedRequest:
        """Read a request; :class:`_wire.BadRequest` (HTTP 400) if it cannot be read."""
        strict = self.strict
        if method == "GET":
            if body and strict:
                raise _wire.BadRequest("a GET request carries no body")
            return _wire.parse_get(endpoint, query, strict=strict)
        if query and strict:
            raise _wire.BadRequest("a POST request carries its fields in the body, not the query")
        values = dict(reversed(headers))  # the first of repeated headers wins
        if "transfer-encoding" in values:
            raise _wire.BadRequest("the body must be sent whole, with a Content-Length")
        length = values.get("content-length")
        if length is None:
            raise _wire.BadRequest("missing Content-Length")
        if length != str(len(body)):
            raise _wire.BadRequest(f"Content-Length {length} but {len(body)} bytes arrived")
        if strict:
            _wire.check_content_type(values.get("content-type"), fmt)
        return _wire.parse_post(endpoint, fmt, body)

    def execute(
        self,
        parsed: _wire.ParsedRequest,
        endpoint: Endpoint,
        fmt: WireFormat,
        method: str,
        fault: Fault | None,
    ) -> Answer:
        """Carry the request out and write the document's answer (under the gateway's lock)."""
        content_type = (("content-type", _wire.content_type(fmt)),)
        account = self.accounts.log_in(parsed.username, parsed.password)
        if account is None:
            return Answer(200, content_type, _wire.render_state(endpoint, fmt, method, -1))
        if endpoint == "credit":
            return Answer(200, content_type, _wire.render_balance(fmt, method, account.balance))
        if endpoint == "send":
            data = [self._accept(account, message) for message in parsed.messages]
        else:
            username = account.config.username
            data = []
            for message_id in parsed.ids:
                state = self.store.state_of(message_id, username)
                data.append(("", -10) if state is None else (message_id, state))
        if isinstance(fault, DataLength):
            if fault.delta < 0:
                data = data[: max(len(data) + fault.delta, 0)]
            else:
                data += [(self.store.new_id(), 2) for _ in range(fault.delta)]
        return Answer(200, content_type, _wire.render_data(endpoint, fmt, method, data))

    def _accept(self, account: AccountState, fields: MessageFields) -> tuple[str, int]:
        """Apply the rules of the module docstring to one message; accept and charge it."""
        source = fields.source
        if source is None or not SENDER.fullmatch(source) or source not in account.config.senders:
            return "", -11
        if fields.destination is None or not _DESTINATION.fullmatch(fields.destination):
            return "", -12
        if not fields.text:
            return "", -14
        if fields.date is not None and not _valid_date(fields.date):
            return "", -15
        if fields.ttl is not None and not _TTL.fullmatch(fields.ttl):
            return "", -16
        counted = segments(fields.text)
        price = counted.parts * self.price_per_part
        if not self.accounts.charge(account, price):
            return "", -13
        message_id = self.store.accept(
            username=account.config.username,
            source=source,
            destination=fields.destination,
            text=fields.text,
            date=fields.date,
            ttl=fields.ttl,
            parts=counted.parts,
            encoding=counted.encoding,
            price=price,
        )
        return message_id, 2


def fault_answer(fault: Fault, endpoint: Endpoint, fmt: WireFormat, method: str) -> Answer:
    """The answer a body-replacing or refusing fault gives instead of the document's."""
    if isinstance(fault, HTTPErrorStatus):
        phrase = HTTPStatus(fault.code).phrase if fault.code in _PHRASES else "Error"
        extra: tuple[tuple[str, str], ...] = ()
        if fault.retry_after is not None:
            value = fault.retry_after
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            extra = (("retry-after", str(value)),)
        return Answer.text(fault.code, f"{fault.code} {phrase}", *extra)
    if isinstance(fault, ErrorState):
        body = _wire.render_state(endpoint, fmt, method, fault.code)
        return Answer(200, (("content-type", _wire.content_type(fmt)),), body)
    if isinstance(fault, HTMLPage):
        return Answer(fault.status, (("content-type", "text/html; charset=utf-8"),), _HTML_PAGE)
    if isinstance(fault, EmptyBody):
        return Answer(fault.status, (("content-type", _wire.content_type(fmt)),), b"")
    if isinstance(fault, WrongShape):
        return Answer(200, (("content-type", _wire.content_type(fmt)),), _WRONG_SHAPE[fmt])
    if isinstance(fault, RawBody):
        return Answer(fault.status, tuple(fault.headers.items()), fault.body)
    raise AssertionError(f"{fault!r} does not replace the answer")
