"""The emulator's message store and its clock: accepted messages, their ids, and their states.

An accepted message starts at 2 (queued) and, once it is *due*, moves one step per
``delivery_delay`` seconds of the clock or per :meth:`MessageStore.advance` step: to 3 (handed to
the operator), then to 4 (delivered), or to -14 for the ``fail_share`` of messages drawn to fail.
A message is due at once, unless its ``date`` lies ahead: it then stays queued until the
emulator's wall clock reaches that date, read in the gateway's time zone (Moscow). States are
computed lazily, when a status is asked or a snapshot taken, so nothing runs in the background.

The clock is ``clock()`` (``time.monotonic`` unless given) plus what :meth:`advance` added with
``by=``. The wall clock that dates are compared with starts at ``start`` (the real time unless
given) and runs with that clock.

Ids look like the gateway's (UUID version 4) but are cheap: one random prefix per store and a
counter, unique within the store and, the prefix being random, across stores. (``uuid.uuid4()``
per message, an ``os.urandom`` call each, was a sixth of the emulator's time under load.)

``max_records`` bounds memory for load tests: the oldest messages are forgotten first, and a
status for a forgotten id is answered like an unknown one (-10). Nothing here is thread-safe;
:class:`FakeGateway` holds its lock around every call.
"""

from __future__ import annotations

import dataclasses
import random
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Final
from zoneinfo import ZoneInfo

from .._segments import Encoding
from ._records import SentMessage

__all__ = ["GATEWAY_TIMEZONE", "MessageStore", "StoredMessage", "seconds"]

GATEWAY_TIMEZONE: Final = ZoneInfo("Europe/Moscow")
"""The time zone the gateway reads a message's ``date`` in."""
_DATE_FORMAT: Final = "%d.%m.%Y %H:%M:%S"


def seconds(value: float | timedelta) -> float:
    """A duration given as seconds or as a ``timedelta``, in seconds."""
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


@dataclass(slots=True)
class StoredMessage:
    """An accepted message: what was recorded once, and what moves its state."""

    record: SentMessage  # its ``state`` is the one at acceptance; snapshots recompute it
    fails: bool
    ready_at: float  # the clock reading from which delivery moves on (acceptance, or its date)
    steps: int = 0
    forced_state: int | None = None


class MessageStore:
    """Accepted messages by id, in order of acceptance, with the clock that moves them."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        delivery_delay: float | None,
        fail_share: float,
        seed: int | None,
        max_records: int | None,
        start: datetime | None,
        timezone: tzinfo = GATEWAY_TIMEZONE,
    ) -> None:
        self._clock = clock
        self._offset = 0.0
        self._clock_zero = clock()
        start_time = datetime.now(timezone) if start is None else start
        if start_time.tzinfo is None:
            start_time = start_time.replace(tzinfo=timezone)
        self._wall_zero = start_time.timestamp()
        self._timezone = timezone
        self.delivery_delay = delivery_delay
        self.fail_share = fail_share
        self._seed = seed
        self._max = max_records
        self._messages: OrderedDict[str, StoredMessage] = OrderedDict()
        #: Told of every message accepted (not of one brought back by :meth:`keep`).
        self.listener: Callable[[StoredMessage], None] | None = None
        self.reseed()

    def reseed(self) -> None:
        """Start the random streams again (``seed`` makes them the same on every run).

        Separate streams, so that which messages fail does not depend on how many ids were made.
        """
        self._fail_rng = random.Random(self._seed)
        id_rng = random.Random(None if self._seed is None else f"ids:{self._seed}")
        bits = id_rng.getrandbits(80)
        self._id_prefix = (
            f"{bits >> 48:08x}-{(bits >> 32) & 0xFFFF:04x}-4{(bits >> 20) & 0xFFF:03x}-"
            f"{0x8 | ((bits >> 18) & 0x3):x}{(bits >> 6) & 0xFFF:03x}-"
        )
        self._next_number = id_rng.getrandbits(40)

    # --- the clock ------------------------------------------------------------------------------

    def now(self) -> float:
        """The emulator's clock: ``clock()`` plus every ``advance(by=...)``."""
        return self._clock() + self._offset

    def wall(self, now: float | None = None) -> datetime:
        """The emulator's wall time, in the gateway's time zone."""
        reading = self.now() if now is None else now
        return datetime.fromtimestamp(self._wall_zero + reading - self._clock_zero, self._timezone)

    def _clock_reading_at(self, date: str) -> float:
        """The clock reading at which a ``dd.MM.yyyy HH:mm:ss`` date (gateway time) falls."""
        when = datetime.strptime(date, _DATE_FORMAT).replace(tzinfo=self._timezone)
        return self._clock_zero + when.timestamp() - self._wall_zero

    # --- messages -------------------------------------------------------------------------------

    def new_id(self) -> str:
        number = self._next_number
        self._next_number = (number + 1) & 0xFFFF_FFFF_FFFF
        return f"{self._id_prefix}{number:012x}"

    def accept(
        self,
        *,
        username: str,
        source: str,
        destination: str,
        text: str,
        date: str | None,
        ttl: str | None,
        parts: int,
        encoding: Encoding,
        price: Decimal,
    ) -> str:
        """Keep one accepted message; its id."""
        now = self.now()
        record = SentMessage(
            id=self.new_id(),
            username=username,
            source=source,
            destination=destination,
            text=text,
            date=date,
            ttl=ttl,
            state=2,
            parts=parts,
            encoding=encoding,
            price=price,
            accepted_at=now,
        )
        fails = self._fail_rng.random() < self.fail_share
        stored = self.keep(record, fails)
        if self.listener is not None:
            self.listener(stored)
        return record.id

    def keep(self, record: SentMessage, fails: bool) -> StoredMessage:
        """Keep ``record`` as accepted (also how a saved message is brought back)."""
        ready_at = record.accepted_at
        if record.date is not None:
            ready_at = max(ready_at, self._clock_reading_at(record.date))
        stored = StoredMessage(record, fails, ready_at)
        if self._max is not None:
            if self._max == 0:
                return stored
            while len(self._messages) >= self._max:
                self._messages.popitem(last=False)
        self._messages[record.id] = stored
        return stored

    def stored(self) -> Iterable[StoredMessage]:
        return self._messages.values()

    def state_of(self, message_id: str, username: str) -> int | None:
        """The message's state now, or ``None`` if it is unknown or another account's."""
        message = self._messages.get(message_id)
        if message is None or message.record.username != username:
            return None
        return self._state(message, self.now())

    def snapshots(self) -> dict[str, SentMessage]:
        now = self.now()
        return {key: self._snapshot(message, now) for key, message in self._messages.items()}

    def snapshot(self, message_id: str) -> SentMessage:
        try:
            return self._snapshot(self._messages[message_id], self.now())
        except KeyError:
            raise KeyError(f"no message {message_id!r}") from None

    def clear(self) -> None:
        self._messages.clear()
        self.reseed()

    # --- moving states --------------------------------------------------------------------------

    def advance(self, steps: int, ids: Iterable[str] | None, by: float) -> None:
        """Move the clock ``by`` seconds, then every due message (or ``ids``) ``steps`` on."""
        self._offset += by
        now = self.now()
        chosen = self._messages.values() if ids is None else [self._messages[i] for i in ids]
        for message in chosen:
            if message.ready_at <= now:
                message.steps += steps

    def set_state(self, message_id: str, state: int) -> None:
        self._messages[message_id].forced_state = state

    def _state(self, message: StoredMessage, now: float) -> int:
        if message.forced_state is not None:
            return message.forced_state
        if now < message.ready_at:
            return 2  # scheduled for later: queued until its date
        steps = message.steps
        delay = self.delivery_delay
        if delay is not None:
            steps += 2 if delay == 0 else int((now - message.ready_at) // delay)
        if steps <= 0:
            return 2
        if steps == 1:
            return 3
        return -14 if message.fails else 4

    def _snapshot(self, message: StoredMessage, now: float) -> SentMessage:
        return dataclasses.replace(message.record, state=self._state(message, now))
