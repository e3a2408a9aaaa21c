"""Which fault spoils the next request: the injected ones in order, else maybe a random one.

Nothing here is thread-safe; :class:`FakeGateway` holds its lock around every call.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from ._faults import (
    ConnectRefused,
    DropAfterRead,
    Endpoint,
    ErrorState,
    Fault,
    HTTPErrorStatus,
    Latency,
    TruncatedBody,
    applies_to,
)

__all__ = ["DEFAULT_RANDOM_FAULTS", "ENDPOINTS", "FaultPlan"]

ENDPOINTS: Final[tuple[Endpoint, ...]] = ("send", "status", "credit")

DEFAULT_RANDOM_FAULTS: Final[tuple[Fault, ...]] = (
    Latency(0.01),
    HTTPErrorStatus(500),
    HTTPErrorStatus(502),
    HTTPErrorStatus(503),
    HTTPErrorStatus(429),
    ErrorState(-50),
    DropAfterRead(),
    TruncatedBody(),
    ConnectRefused(),
)
"""The faults :meth:`FakeGateway.random_faults` draws from unless told otherwise."""


@dataclass
class _FaultRule:
    fault: Fault
    endpoint: Endpoint | None
    remaining: int | None


@dataclass(frozen=True)
class _RandomFaults:
    rate: float
    kinds: tuple[Fault, ...]
    endpoint: Endpoint | None
    rng: random.Random = field(compare=False)


class FaultPlan:
    """The faults waiting for requests, and how many connections were refused."""

    def __init__(self) -> None:
        self._rules: list[_FaultRule] = []
        self._random: _RandomFaults | None = None
        self.refused = 0

    def inject(self, fault: Fault, endpoint: Endpoint | None, times: int | None) -> None:
        if endpoint is not None and endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint must be one of {ENDPOINTS} or None, not {endpoint!r}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1, or None for always")
        self._rules.append(_FaultRule(fault, endpoint, times))

    def random(
        self,
        rate: float,
        kinds: Iterable[Fault] | None,
        seed: int | None,
        endpoint: Endpoint | None,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        chosen = DEFAULT_RANDOM_FAULTS if kinds is None else tuple(kinds)
        if rate and not chosen:
            raise ValueError("kinds must not be empty")
        self._random = _RandomFaults(rate, chosen, endpoint, random.Random(seed)) if rate else None

    def pending(self) -> tuple[Fault, ...]:
        return tuple(rule.fault for rule in self._rules)

    def clear(self) -> None:
        self._rules.clear()
        self._random = None

    def next(self, endpoint: Endpoint) -> Fault | None:
        """The fault for one request to ``endpoint``: the first injected one that matches, else
        maybe a random one."""
        for index, rule in enumerate(self._rules):
            if rule.endpoint not in (None, endpoint) or not applies_to(rule.fault, endpoint):
                continue
            if rule.remaining is not None:
                rule.remaining -= 1
                if rule.remaining == 0:
                    del self._rules[index]
            return rule.fault
        chaos = self._random
        if chaos is None or chaos.endpoint not in (None, endpoint):
            return None
        if chaos.rng.random() >= chaos.rate:
            return None
        kinds = [fault for fault in chaos.kinds if applies_to(fault, endpoint)]
        return chaos.rng.choice(kinds) if kinds else None
