"""The exchange: the only layer that knows an HTTP library, and the one factory that builds it.

An exchange takes one prepared request and returns the answer's status, ``Retry-After`` and
body (read through :class:`._inflate.CappedBody`), or raises one of its own small set of
errors: :class:`ExchangeFailed`, which says how far the request got as an
:class:`._retry.Outcome` (``NOT_SENT``: it provably never left, a refused or timed-out connect;
``MAYBE_SENT`` / ``MAYBE_SENT_FINAL``: anything after the first byte may have been written), or
:class:`ExchangeClosed` (the engine, or a caller's client under it, is closed). An answer whose
body cannot be read raises ``ResponseError``. Everything that decides (retries, caps, the
outcome of a send, redaction, logging, the rate limit) sits above, in ``_transport.py``, and is
the same for every engine, so that a new engine cannot weaken a guarantee by being new.

Each engine is one module, registered in :data:`ENGINES`, that owns three things, as httpx's
transports do (``httpx/_transports/default.py``): its ``name``, its ``checkpoint`` (the await
the policy layer uses between requests in flight) and ``FAULTS``, the one table from its
library's exceptions to an ``Outcome``, applied at one boundary (:func:`translate`). It exposes
``open_exchange(settings, secret, *, http_client, transport)``; :func:`make_exchange` is the one
factory that picks the engine and calls it.

Two engines: httpx (``_exchange_httpx.py``, the default, asyncio and trio, honours a caller's
``http_client=`` or ``transport=``) and aiohttp (``_exchange_aiohttp.py``, the ``[aiohttp]``
extra, asyncio only, about a third of httpx's CPU per request). ``backend="auto"`` picks aiohttp
when it is installed (aiohttp >= 3.11: an older one cannot keep the promises, and ``auto`` then
says why at DEBUG), no httpx object was given, and the running loop is asyncio; under trio it
is httpx. This module also holds what the engines share: the choice, the error translation,
the leftover-bytes message, and the proxy read from the environment.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import importlib.util
import logging
import platform
import re
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from . import _constants as C
from ._config import Backend, Settings
from ._exceptions import ValidationError
from ._redact import describe_exception
from ._request import PreparedRequest
from ._retry import Outcome

EngineName = Literal["httpx", "aiohttp"]

#: Every engine, by name: the module that implements it (imported only when chosen, so that
#: aiohttp is never loaded for an httpx client). Adding an engine is one module and one entry
#: here; the fault tests parametrise over these names.
ENGINES: dict[EngineName, str] = {
    "httpx": "mysms_async._exchange_httpx",
    "aiohttp": "mysms_async._exchange_aiohttp",
}


@dataclass(frozen=True, slots=True)
class Reply:
    """What came back: a body only for a 200 (an error page changes no outcome)."""

    status_code: int
    body: bytes
    retry_after: str | None = None


class ExchangeError(Exception):
    """What an engine raises of its own (never one of the policy layer's errors)."""

    def __init__(self, what: str, detail: str | None = None) -> None:
        self.what = what
        self.detail = detail
        super().__init__(what)


class ExchangeFailed(ExchangeError):
    """The round trip failed; ``outcome`` says how far the request got."""

    def __init__(self, outcome: Outcome, what: str, detail: str | None = None) -> None:
        self.outcome = outcome
        super().__init__(what, detail)


class ExchangeClosed(ExchangeError):
    """The engine was closed (or a caller's client under it): nothing was sent."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One row of an engine's ``FAULTS`` table: what an exception of that type means."""

    outcome: Outcome
    what: str
    #: Keep the exception's type and redacted message as ``detail`` (a bare timeout has none).
    detailed: bool = True


#: An engine's table: checked in order, first match wins (so a subclass comes before its base).
Faults = tuple[tuple[type[BaseException], Fault], ...]


def translate(exc: Exception, faults: Faults, secret: str) -> ExchangeFailed | None:
    """The one boundary where a library's exception becomes an ``ExchangeFailed`` (None: not
    the library's, let it through). Never chained: the library's ``request`` holds the URL, and
    on GET the URL holds the password; only its type and redacted message are kept."""
    for kind, fault in faults:
        if isinstance(exc, kind):
            detail = describe_exception(exc, secret) if fault.detailed else None
            return ExchangeFailed(fault.outcome, fault.what, detail)
    return None


#: Bytes already received past the end of a complete answer (a proxy that answered twice).
LEFTOVER = (
    "more bytes followed a complete answer on this connection (an answer sent twice?); the"
    " answer is not trusted and the connection is discarded"
)


def leftover() -> ExchangeFailed:
    """The failure for an answer followed by more bytes: it may have been executed."""
    return ExchangeFailed(Outcome.MAYBE_SENT, LEFTOVER)


class Exchange(Protocol):
    """One engine: a round trip per call, bounded by the attempt's timeout; ``aclose`` frees all."""

    @property
    def name(self) -> str:
        """The engine's name, as in :data:`ENGINES` (telemetry's ``mysms.engine``)."""
        ...

    @property
    def checkpoint(self) -> Callable[[], Awaitable[None]]:
        """The await the policy layer uses between requests in flight."""
        ...

    async def round_trip(self, prepared: PreparedRequest, timeout: float | None = None) -> Reply:
        """``timeout``: this attempt's, when not the client's own."""
        ...

    async def aclose(self) -> None: ...


logger = logging.getLogger(C.LOGGER_NAME)

#: The first aiohttp whose silent resend of an idempotent request on a dropped kept-alive
#: connection (a GET send included) can be switched off (``ClientSession._retry_connection``).
AIOHTTP_REQUIRED = (3, 11)


@functools.lru_cache(maxsize=1)
def aiohttp_problem() -> str | None:
    """Why aiohttp cannot be used (not installed, or too old to keep the promises), or None.

    Read from the installed distribution's metadata, without importing aiohttp, once per
    process: an older aiohttp would resend a send on its own, and it cannot be told not to.
    """
    if importlib.util.find_spec("aiohttp") is None:
        return "aiohttp is not installed: pip install 'mysms-async[aiohttp]'"
    try:
        installed = importlib.metadata.version("aiohttp")
    except importlib.metadata.PackageNotFoundError:
        return None  # importable but not installed as a distribution: its import check decides
    match = re.match(r"(\d+)\.(\d+)", installed)
    if match is not None and (int(match[1]), int(match[2])) < AIOHTTP_REQUIRED:
        required = ".".join(map(str, AIOHTTP_REQUIRED))
        return (
            f"aiohttp {installed} is installed, and mysms-async needs aiohttp >= {required}"
            " (older releases resend a request on a dropped kept-alive connection, a send"
            " included, and cannot be told not to): pip install -U 'mysms-async[aiohttp]'"
        )
    return None


def aiohttp_installed() -> bool:
    """aiohttp is installed and recent enough to keep the promises (see ``aiohttp_problem``)."""
    return aiohttp_problem() is None


def make_exchange(
    settings: Settings,
    secret: str,
    library: str | None,
    *,
    http_client: Any = None,
    transport: Any = None,
) -> Exchange | None:
    """The one factory: the exchange ``settings.backend`` names, built from the settings (limits,
    timeouts) and the caller's ``http_client=`` / ``transport=`` (already checked, in
    ``_config.check_engine_options``).

    ``library`` is the running async library (``sniffio``'s name), or None at construction: then
    the answer is None when the choice needs the running loop (``"aiohttp"``, or ``"auto"`` with
    aiohttp usable), and an aiohttp that cannot keep the promises is refused before any I/O.
    """
    httpx_given = http_client is not None or transport is not None
    backend = settings.backend
    name: EngineName
    if library is None:
        if backend == "aiohttp":
            problem = aiohttp_problem()
            if problem is not None:
                raise ValidationError("backend", problem)
            return None
        if backend == "auto" and not httpx_given:
            problem = aiohttp_problem()
            if problem is None:
                return None
            logger.debug("backend='auto' takes httpx: %s", problem)
        name = "httpx"
    else:
        name = resolve_backend(backend, library, httpx_given=httpx_given)
    module = importlib.import_module(ENGINES[name])
    exchange: Exchange = module.open_exchange(
        settings, secret, http_client=http_client, transport=transport
    )
    return exchange


def resolve_backend(backend: Backend, library: str, *, httpx_given: bool) -> EngineName:
    """The engine for the running async library (``sniffio`` name), decided at first use."""
    if backend == "httpx":
        return "httpx"
    if library != "asyncio":
        if backend == "aiohttp":
            raise ValidationError(
                "backend",
                f"aiohttp runs only under asyncio, not {library}; use backend='httpx' (or"
                " 'auto') there",
            )
        return "httpx"
    if backend == "aiohttp" or (not httpx_given and aiohttp_installed()):
        return "aiohttp"
    return "httpx"


@functools.lru_cache(maxsize=1)
def package_version() -> str:
    """This package's version, as installed (``mysms_async.__version__``)."""
    try:
        return importlib.metadata.version("mysms-async")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a bare source tree
        return "unknown"


@functools.lru_cache(maxsize=2)
def user_agent(engine: EngineName) -> str:
    """``mysms-async/<version> (Python x.y.z; <engine>/<version>)``, sent with every request."""
    try:
        engine_version = importlib.metadata.version(engine)
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - vendored copies
        engine_version = "unknown"
    return (
        f"{C.USER_AGENT}/{package_version()} (Python {platform.python_version()};"
        f" {engine}/{engine_version})"
    )


def env_proxy(url: str) -> str | None:
    """The proxy ``HTTP(S)_PROXY`` / ``ALL_PROXY`` name for ``url``, unless ``NO_PROXY`` spares
    its host: what httpx's ``trust_env`` and curl do, read once per client, not per request."""
    scheme, _, rest = url.partition("://")
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(scheme.lower()) or proxies.get("all")
    if not proxy:
        return None
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    bypass: Callable[[str, dict[str, str]], bool] = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    if bypass(host, proxies):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"
