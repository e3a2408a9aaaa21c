"""Credentials and settings: checked once, at construction, so every later error is about I/O."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from . import _constants as C
from ._exceptions import ConfigurationError, ValidationError
from ._redact import remember_secret
from ._textrules import check_xml_safe

WireFormat = Literal["json", "xml"]
HttpMethod = Literal["POST", "GET"]
#: What a caller may write: the method is matched case-insensitively ("post" is "POST").
HttpMethodOption = Literal["POST", "GET", "post", "get"]
#: Which HTTP library carries the requests; "auto" picks aiohttp when it is installed and the
#: loop is asyncio, else httpx (``_exchange.make_exchange`` decides, in the running loop).
Backend = Literal["httpx", "aiohttp", "auto"]
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
    backend: Backend = "httpx"
    #: Most SMS parts one message's text may need (``_segments``); None for no limit.
    max_parts: int | None = C.DEFAULT_MAX_PARTS


def to_seconds(name: str, value: Seconds, *, positive: bool = False) -> float:
    """Accept a float of seconds or a ``timedelta``, as stamina does; finite and not negative.

    NaN passes every ``<`` test and infinity never elapses, so both are refused here rather than
    turning into a wait that never ends (or a busy loop) later.
    """
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ValidationError(name, "must be a number of seconds or a timedelta", value)
    if not math.isfinite(seconds):
        raise ValidationError(name, "must be a finite number of seconds", value)
    if positive and seconds <= 0:
        raise ValidationError(name, "must be positive", value)
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


def _max_parts(value: int | None) -> int | None:
    """An integer of at least 1, or None for no limit (0 is not "no limit": say None)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or int.__index__(value) < 1:
        raise ValidationError(
            "max_parts", "must be an integer of at least 1, or None for no limit", value
        )
    return int.__index__(value)


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
    backend: str = "httpx",
    max_parts: int | None = C.DEFAULT_MAX_PARTS,
) -> Settings:
    if rate_limit is not None:
        if isinstance(rate_limit, bool) or not isinstance(rate_limit, int | float):
            raise ValidationError("rate_limit", "must be a number of requests per second")
        if not math.isfinite(rate_limit) or rate_limit <= 0:
            raise ValidationError("rate_limit", "must be a positive, finite number", rate_limit)
    return Settings(
        base_url=_base_url(base_url),
        wire_format=_choice("wire_format", wire_format, ("json", "xml")),  # type: ignore[arg-type]
        http_method=_choice("http_method", http_method, ("POST", "GET"), upper=True),  # type: ignore[arg-type]
        timeout=to_seconds("timeout", timeout, positive=True),
        max_retries=_positive_int("max_retries", max_retries, minimum=0),
        retry_backoff=to_seconds("retry_backoff", retry_backoff),
        batch_size=_positive_int("batch_size", batch_size, maximum=C.MAX_BATCH_SIZE),
        max_concurrency=_positive_int("max_concurrency", max_concurrency),
        rate_limit=None if rate_limit is None else float(rate_limit),
        timezone=_timezone(timezone),
        max_response_bytes=_positive_int("max_response_bytes", max_response_bytes, minimum=1024),
        backend=_choice("backend", backend, ("httpx", "aiohttp", "auto")),  # type: ignore[arg-type]
        max_parts=_max_parts(max_parts),
    )


def check_engine_options(backend: Backend, *, http_client: object, transport: object) -> None:
    """The caller's httpx objects, checked once, before any I/O: one of them at most, of the
    right type, and only for an engine that can use them (aiohttp cannot)."""
    if http_client is not None and transport is not None:
        raise ValidationError("transport", "give either http_client or transport, not both")
    if backend == "aiohttp" and (http_client is not None or transport is not None):
        raise ValidationError(
            "backend",
            "aiohttp cannot use http_client= or transport= (httpx objects); use"
            " backend='httpx' with them",
        )
    if http_client is not None:
        import httpx  # only when one was given: the policy layer loads no HTTP library

        if not isinstance(http_client, httpx.AsyncClient):
            raise ValidationError("http_client", "must be an httpx.AsyncClient")


def call_timeout(value: Seconds | None) -> float | None:
    """A per-call ``timeout=`` (``send``, ``status``, ``balance``): the client's rule, or None."""
    return None if value is None else to_seconds("timeout", value, positive=True)


def with_overrides(
    settings: Settings, *, timeout: Seconds | None, max_retries: int | None
) -> Settings:
    """``settings`` with another ``timeout`` and/or ``max_retries``, checked like the client's."""
    changes: dict[str, float | int] = {}
    if timeout is not None:
        changes["timeout"] = to_seconds("timeout", timeout, positive=True)
    if max_retries is not None:
        changes["max_retries"] = _positive_int("max_retries", max_retries, minimum=0)
    return dataclasses.replace(settings, **changes)  # type: ignore[arg-type]


def make_credentials(username: str, password: str) -> Credentials:
    if not isinstance(username, str) or not username:
        raise ValidationError("username", "must be a non-empty string")
    if not isinstance(password, str) or not password:
        raise ValidationError("password", "must be a non-empty string")
    check_xml_safe("username", username)
    check_xml_safe("password", password)
    credentials = Credentials(username, password)
    remember_secret(credentials, password)  # the log filter withholds records that quote it
    return credentials


ENV_USERNAME = "MYSMS_USERNAME"
ENV_PASSWORD = "MYSMS_PASSWORD"
ENV_SENDER = "MYSMS_SENDER"
ENV_BASE_URL = "MYSMS_BASE_URL"
ENV_FORMAT = "MYSMS_FORMAT"
ENV_METHOD = "MYSMS_METHOD"

#: Which client argument each variable sets, in the order they are read.
ENV_ARGUMENTS = {
    ENV_USERNAME: "username",
    ENV_PASSWORD: "password",
    ENV_SENDER: "sender",
    ENV_BASE_URL: "base_url",
    ENV_FORMAT: "wire_format",
    ENV_METHOD: "http_method",
}
_REQUIRED = (ENV_USERNAME, ENV_PASSWORD)
#: Values safe to quote back in an error: never the credentials.
_QUOTABLE = frozenset({ENV_FORMAT, ENV_METHOD})


def read_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The client's keyword arguments found in the environment; credentials are required.

    A missing credential is a ``ConfigurationError`` naming every missing variable at once, so
    the fix is stated once rather than discovered one variable per run.
    """
    env = os.environ if environ is None else environ
    missing = [variable for variable in _REQUIRED if not env.get(variable)]
    if missing:
        names = " and ".join(missing)
        plural = len(missing) > 1
        raise ConfigurationError(
            f"environment variable{'s' if plural else ''} {names} {'are' if plural else 'is'}"
            f" not set: export {' '.join(f'{name}=...' for name in missing)} (your gateway login)",
            variable=missing[0],
        )
    return {
        argument: env[variable] for variable, argument in ENV_ARGUMENTS.items() if env.get(variable)
    }


def env_error(error: ValidationError, found: Mapping[str, str]) -> ConfigurationError | None:
    """The ``ConfigurationError`` for a ``ValidationError`` caused by an environment value."""
    for variable, argument in ENV_ARGUMENTS.items():
        if argument == error.field and argument in found:
            shown = f"={found[argument]!r}" if variable in _QUOTABLE else ""
            return ConfigurationError(
                f"environment variable {variable}{shown}: {error.rule}", variable=variable
            )
    return None
