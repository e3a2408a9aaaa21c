"""The rules of a campaign journal: outcomes, how a message moves between them, leases, the schema.

Every message of a campaign is in exactly one *outcome*. The only moves are::

    pending ──claim──▶ sending ──answer──▶ accepted ──track──▶ delivered | undelivered
       ▲                  │  │                  (and refused, failed, invalid from the answer)
       └── not sent ──────┘  └── lease expired, or cancelled in flight ──▶ unknown
    unknown ──(only `resolve --resend-unknown`, an operator's explicit decision)──▶ pending
    unknown ──(`resolve --skip-unknown`)──▶ skipped   (final: a later `--resend-unknown` leaves it
                                                      alone unless it names the row by key)

``sending`` is committed with the worker's id and a lease *before* the request is written, so a
crash between the two commits leaves proof that the batch may have reached the gateway. When the
lease runs out the batch becomes ``unknown`` and stays there: resending it on our own could send
an SMS twice, which costs money and reaches a real person twice. A worker that is still alive
renews its lease while its request is in flight, and writes the real outcome when the answer comes,
even over ``unknown`` or ``skipped``, as long as the rows are still its own. A gateway id is
never dropped: every id a message was given is kept (``gateway_ids``), the first in ``gateway_id``.

The backends (:mod:`._sqlite`, :mod:`._postgres`) only speak SQL; what the codes mean and which
failure leads where is decided here.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from typing import Final

from .._exceptions import (
    AuthError,
    BaseURLError,
    ClientClosedError,
    DeliveryUnknownError,
    GatewayError,
    MySMSError,
    ResponseError,
    TransportError,
    ValidationError,
)

SCHEMA_VERSION: Final = 2
"""The journal layout this library writes; a journal at another version says so on open."""


class Outcome(enum.IntEnum):
    """Where one message stands; stored as a small integer, named in reports."""

    PENDING = 0
    SENDING = 1
    ACCEPTED = 2
    DELIVERED = 3
    UNDELIVERED = 4
    REFUSED = 5
    FAILED = 6
    INVALID = 7
    UNKNOWN = 8
    SKIPPED = 9
    """Was ``unknown``; an operator decided never to resend it (it may have reached the gateway)."""

    @property
    def label(self) -> str:
        """The outcome's name as shown and exported (``"accepted"``, ``"unknown"``, ...)."""
        return self.name.lower()

    @property
    def is_final(self) -> bool:
        """Nothing more will happen to the message without an operator (or a tracker)."""
        return self not in (Outcome.PENDING, Outcome.SENDING)


OUTCOME_NAMES: Final[tuple[str, ...]] = tuple(outcome.label for outcome in Outcome)
"""The keys of ``counts`` in a report, in this order."""


class JournalError(MySMSError):
    """The journal cannot be used: a missing campaign, a schema of another version, a second
    SQLite worker, a conflicting row."""


class DuplicateKeyError(JournalError):
    """Two different rows carry the same key: the second cannot be told apart from the first."""

    def __init__(self, key: str, first_line: int, line: int) -> None:
        self.key = key
        self.first_line = first_line
        self.line = line
        super().__init__(
            f"line {line}: key {key!r} is already used by line {first_line} with a different"
            " destination, text, sender, date or ttl; give one of them another key"
        )


# --- deciding outcomes -------------------------------------------------------------------------


def outcome_of_error(error: BaseException) -> Outcome | None:
    """The outcome a failed send leaves a message in; ``None``: provably not sent, so pending.

    Order matters: ``DeliveryUnknownError`` is a ``TransportError``, and only a transport error
    that is *not* one proves the request never arrived. A 429 executes nothing, and a 404 / 405
    (``BaseURLError``) reached no send endpoint. Any failure we do not recognise may have reached
    the gateway.
    """
    if isinstance(error, DeliveryUnknownError):
        return Outcome.UNKNOWN
    if isinstance(error, (TransportError, AuthError, ClientClosedError, BaseURLError)):
        return None
    if isinstance(error, ResponseError) and error.status_code == 429:
        return None
    if isinstance(error, ValidationError):
        return Outcome.INVALID
    if isinstance(error, GatewayError):
        return Outcome.FAILED
    return Outcome.UNKNOWN


def stops_the_run(error: BaseException) -> bool:
    """Failures every later request would meet too: bad credentials, a wrong base URL (HTTP 404
    or 405: no send endpoint there), a closed client, a bug."""
    if isinstance(error, (AuthError, BaseURLError, RuntimeError)):
        return True
    return not isinstance(error, MySMSError)


def outcome_of_state(state: int) -> Outcome:
    """The outcome a delivery state puts an accepted message in."""
    if state == 4:
        return Outcome.DELIVERED
    if state < 0:
        return Outcome.UNDELIVERED
    return Outcome.ACCEPTED


def describe_error(error: BaseException) -> str:
    """A short reason for the journal; the library's messages never carry the password."""
    if isinstance(error, ValidationError):
        return f"{error.field}: {error.rule}"
    return f"{type(error).__name__}: {error}"[:500]


# --- defaults --------------------------------------------------------------------------------

DEFAULT_BATCH: Final = 100
"""Messages per claim (and per request: the client's ``batch_size`` should be at least this)."""
DEFAULT_LEASE: Final = 30.0
"""Seconds a claim stays ``sending`` without renewal before it counts as ``unknown``."""
DEFAULT_IDLE_POLL: Final = 0.2
"""Seconds a worker waits when nothing is pending but other workers still have rows in flight."""
NOT_SENT_PAUSE: Final = 0.2
"""Seconds a worker waits after a batch came back unsent, so a refusing gateway is not hammered."""
RATE_MARGIN: Final = 0.15
"""Send slots are spaced this much wider than ``1 / rate_limit``: the gateway counts requests by
their arrival, and network and scheduling jitter between two workers must not squeeze one more
request into its one-second window."""
COLD_START: Final = 0.25
"""Seconds kept free after a lane's first request: it opens a connection (and in a new process
warms the HTTP stack), so it may arrive that much late, and must not then crowd the next ones."""
SLOT_TOLERANCE: Final = 0.25
"""A lane that wakes this share of an interval after its slot takes a new one."""
MAX_RESLOTS: Final = 5
MAYBE_SENT: Final = frozenset({Outcome.UNKNOWN, Outcome.SKIPPED})
"""Outcomes of messages that may have reached the gateway without an answer saying so."""
DEFAULT_JOURNAL_RETRY: Final = 120.0
"""Seconds a worker keeps retrying a journal write that carries answers (a lost connection, a
restarted server, a held SQLite lock) before it writes them to its fallback file and stops."""
JOURNAL_BACKOFF: Final = (0.05, 5.0)
"""The first and the longest pause between two tries of a journal write."""
DEFAULT_TRACK_BATCH: Final = 500
DEFAULT_TRACK_INTERVAL: Final = 5.0
LOAD_CHUNK: Final = 20_000
"""Rows inserted per statement while loading (on SQLite, per transaction: a load holds the write
lock a fraction of a second at a time; 5,000 wrote two and a half times the WAL, the random
``(campaign, key)`` index rewritten at every commit)."""


Seconds = float | dt.timedelta


def seconds(name: str, value: Seconds) -> float:
    """A positive, finite duration given as seconds or a ``timedelta``."""
    number = value.total_seconds() if isinstance(value, dt.timedelta) else value
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        raise ValidationError(name, "must be a number of seconds or a timedelta", value)
    if not math.isfinite(number) or number <= 0:
        raise ValidationError(name, "must be a positive, finite number of seconds", value)
    return float(number)
