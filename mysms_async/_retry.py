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


class Outcome(enum.Enum):
    """What a failed attempt means: the one classification every failure gets, in one place.

    Each value says two things, and nothing else decides them: whether the messages of a send
    may have reached the gateway (``may_have_arrived``: then a send's failure is
    ``DeliveryUnknownError``, never "not sent"), and which operations may try again
    (``should_retry``). The engines map their library's errors onto it (their ``FAULTS``
    tables), the policy layer (``_transport.py``) maps status codes and request states.
    """

    #: Provably never reached the gateway, and trying again could help (a refused or timed-out
    #: connect, HTTP 429): retried, even a send.
    NOT_SENT = "not sent; retryable"
    #: The gateway says it did not execute the request (request states -50..-52): a send's
    #: messages are not sent (``GatewayError``), yet a send is not resent on the gateway's
    #: word alone (a duplicate is worse than a delay); status and balance are retried.
    NOT_EXECUTED = "not executed by the gateway; retried only when idempotent"
    #: Provably not executed, and no retry helps (HTTP 404/405: no endpoint at the base URL).
    NOT_SENT_FINAL = "not sent; final"
    #: May have reached the gateway; trying again could help (timeouts, resets, 5xx): retried
    #: only when idempotent, a send's messages are unknown.
    MAYBE_SENT = "may have arrived; retried only when idempotent"
    #: May have reached the gateway, and no retry helps (a redirect, an unreadable answer, an
    #: undocumented request state, a request the engine could not make).
    MAYBE_SENT_FINAL = "may have arrived; final"

    @property
    def may_have_arrived(self) -> bool:
        """A send that failed so has an unknown outcome (``DeliveryUnknownError``)."""
        return self in (Outcome.MAYBE_SENT, Outcome.MAYBE_SENT_FINAL)

    def should_retry(self, *, idempotent: bool) -> bool:
        """Never resend what may have arrived unless resending is harmless; never repeat what
        cannot succeed."""
        if self is Outcome.NOT_SENT:
            return True
        return idempotent and self in (Outcome.NOT_EXECUTED, Outcome.MAYBE_SENT)


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed attempt, as the retry loop sees it."""

    outcome: Outcome
    retry_after: float | None = None


def should_retry(failure: Failure, *, idempotent: bool) -> bool:
    """Whether ``failure`` may be tried again (``Outcome.should_retry``)."""
    return failure.outcome.should_retry(idempotent=idempotent)


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
