"""Option values from their text: each type says clearly what it wanted, or returns the value.

argparse prints an ``ArgumentTypeError``'s text after the option's name, so each message names
the text it got. :func:`parse_iso_datetime` serves both ``send --date`` and a ``bulk`` row's date.
"""

from __future__ import annotations

import argparse
from decimal import Decimal, InvalidOperation

from .._table import parse_iso_datetime as parse_iso_datetime


def _whole(text: str, minimum: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{text!r} must be {what}")
    return value


def positive_int(text: str) -> int:
    return _whole(text, 1, "at least 1")


def non_negative_int(text: str) -> int:
    return _whole(text, 0, "0 or more")


def port(text: str) -> int:
    value = _whole(text, 0, "a port number (0 picks a free one)")
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} must be a port number, at most 65535")
    return value


def _seconds(text: str, *, allow_zero: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0 or (value == 0 and not allow_zero) or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number of seconds")
    return value


def positive_seconds(text: str) -> float:
    return _seconds(text, allow_zero=False)


def non_negative_seconds(text: str) -> float:
    return _seconds(text, allow_zero=True)


def share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 1")
    return value


def amount(text: str) -> Decimal:
    try:
        value = Decimal(text.replace(",", "."))
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be an amount of 0 or more")
    return value
