"""Which failures may be retried, and how long to wait before the next attempt.

The rule that matters most: a send is retried only when the request provably never reached the
gateway (the connection was refused or never opened, or the gateway answered 429, "too many
requests", which executes nothing), and trying again could help: a 404 or 405 executes nothing
either, but says the base URL is wrong, which no retry changes. Everything else that fails after
the request may have been read becomes ``DeliveryUnknownError``: a duplicate SMS costs money and
annoys a real person. Status and balance change nothing on the gateway, so they are retried on
any transient failure.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import enum
import random
from collections.abc import Callable
from dataclasses import dataclass

from . import _constants as C


class Reach(enum.Enum):
    """How far a failed attempt got: the one fact that decides whether a send may be retried."""

    NOT_SENT = "the request provably never reached the gateway"
    MAYBE_SENT = "the request may have reached the gateway"


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed attempt, as the retry loop sees it."""

    reach: Reach
    #: Worth another try when the operation is idempotent (timeouts, resets, 5xx, -50..-52).
    transient: bool
    retry_after: float | None = None


def should_retry(failure: Failure, *, idempotent: bool) -> bool:
    """Never resend what may have arrived unless resending is harmless; never repeat what
    cannot succeed (a ``NOT_SENT`` failure that is not transient: no endpoint at the URL)."""
    if failure.reach is Reach.NOT_SENT:
        return failure.transient
    return idempotent and failure.transient


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with bounded jitter; ``Retry-After`` wins when it asks for longer."""

    first_delay: float
    max_delay: float = C.MAX_RETRY_DELAY
    jitter: float = C.RETRY_JITTER
    max_retry_after: float = C.MAX_RETRY_AFTER

    def delay(
        self,
        retry_number: int,
        retry_after: float | None = None,
        random_fraction: Callable[[], float] = random.random,
    ) -> float | None:
        """Seconds to sleep before retry ``retry_number`` (1-based); None: do not retry at all.

        A ``Retry-After`` beyond ``max_retry_after`` means the gateway wants a pause longer than
        a caller would wait inside one call, so the error is raised instead.
        """
        if retry_after is not None and retry_after > self.max_retry_after:
            return None
        doublings = min(retry_number - 1, 32)  # 2**32 x any delay is past the cap already
        base = min(self.first_delay * 2**doublings, self.max_delay)
        delay: float = base * (1 - self.jitter * random_fraction())
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date; None if unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    now = now or dt.datetime.now(dt.timezone.utc)
    return max(0.0, (when - now).total_seconds())
