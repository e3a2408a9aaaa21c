"""Credentials and settings: checked once, at construction, so every later error is about I/O."""

from __future__ import annotations

import datetime as dt
import os
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from . import _constants as C
from ._exceptions import MySMSError, ValidationError

WireFormat = Literal["json", "xml"]
HttpMethod = Literal["POST", "GET"]
Seconds = float | dt.timedelta


@dataclass(frozen=True)
class Credentials:
    """Username and password; the password never shows in ``repr`` or ``str``."""

    username: str
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password='***')"


@dataclass(frozen=True)
class Settings:
    """Everything a client was configured with, validated and normalised."""

    base_url: str
    wire_format: WireFormat
    http_method: HttpMethod
    timeout: float
    max_retries: int
    retry_backoff: float
    batch_size: int
    max_concurrency: int
    rate_limit: float | None
    timezone: dt.tzinfo
    max_response_bytes: int


def to_seconds(name: str, value: Seconds) -> float:
    """Accept a float of seconds or a ``timedelta``, as stamina does."""
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ValidationError(name, "must be a number of seconds or a timedelta", value)
    if seconds < 0:
        raise ValidationError(name, "must not be negative", value)
    return float(seconds)


def _positive_int(name: str, value: int, *, minimum: int = 1, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(name, "must be an integer", value)
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum else f"at least {minimum}"
        raise ValidationError(name, f"must be {bound}", value)
    return value


def _choice(name: str, value: str, choices: tuple[str, ...], *, upper: bool = False) -> str:
    if not isinstance(value, str):
        raise ValidationError(name, f"must be one of {', '.join(choices)}", value)
    normalised = value.upper() if upper else value.lower()
    if normalised not in choices:
        raise ValidationError(name, f"must be one of {', '.join(choices)}", value)
    return normalised


def _base_url(value: str) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ValidationError("base_url", "must be an http:// or https:// URL", value)
    return value if value.endswith("/") else value + "/"


def _timezone(value: str | dt.tzinfo) -> dt.tzinfo:
    if isinstance(value, dt.tzinfo):
        return value
    try:
        return zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValidationError("timezone", "must be an IANA time-zone name", value) from None


def make_settings(
    *,
    base_url: str,
    wire_format: str,
    http_method: str,
    timeout: Seconds,
    max_retries: int,
    retry_backoff: Seconds,
    batch_size: int,
    max_concurrency: int,
    rate_limit: float | None,
    timezone: str | dt.tzinfo,
    max_response_bytes: int,
) -> Settings:
    if rate_limit is not None:
        if isinstance(rate_limit, bool) or not isinstance(rate_limit, int | float):
            raise ValidationError("rate_limit", "must be a number of requests per second")
        if rate_limit <= 0:
            raise ValidationError("rate_limit", "must be positive", rate_limit)
    seconds = to_seconds("timeout", timeout)
    if seconds == 0:
        raise ValidationError("timeout", "must be positive", timeout)
    return Settings(
        base_url=_base_url(base_url),
        wire_format=_choice("wire_format", wire_format, ("json", "xml")),  # type: ignore[arg-type]
        http_method=_choice("http_method", http_method, ("POST", "GET"), upper=True),  # type: ignore[arg-type]
        timeout=seconds,
        max_retries=_positive_int("max_retries", max_retries, minimum=0),
        retry_backoff=to_seconds("retry_backoff", retry_backoff),
        batch_size=_positive_int("batch_size", batch_size, maximum=C.MAX_BATCH_SIZE),
        max_concurrency=_positive_int("max_concurrency", max_concurrency),
        rate_limit=None if rate_limit is None else float(rate_limit),
        timezone=_timezone(timezone),
        max_response_bytes=_positive_int("max_response_bytes", max_response_bytes, minimum=1024),
    )


def make_credentials(username: str, password: str) -> Credentials:
    if not isinstance(username, str) or not username:
        raise ValidationError("username", "must be a non-empty string")
    if not isinstance(password, str) or not password:
        raise ValidationError("password", "must be a non-empty string")
    from ._request import check_xml_safe

    check_xml_safe("username", username)
    check_xml_safe("password", password)
    return Credentials(username, password)


ENV_USERNAME = "MYSMS_USERNAME"
ENV_PASSWORD = "MYSMS_PASSWORD"
ENV_SENDER = "MYSMS_SENDER"
ENV_BASE_URL = "MYSMS_BASE_URL"
ENV_FORMAT = "MYSMS_FORMAT"
ENV_METHOD = "MYSMS_METHOD"


def read_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The client's keyword arguments found in the environment; credentials are required."""
    env = os.environ if environ is None else environ
    found: dict[str, str] = {}
    for variable, argument in ((ENV_USERNAME, "username"), (ENV_PASSWORD, "password")):
        value = env.get(variable, "")
        if not value:
            raise MySMSError(f"environment variable {variable} is not set")
        found[argument] = value
    for variable, argument in (
        (ENV_SENDER, "sender"),
        (ENV_BASE_URL, "base_url"),
        (ENV_FORMAT, "wire_format"),
        (ENV_METHOD, "http_method"),
    ):
        if env.get(variable):
            found[argument] = env[variable]
    return found
