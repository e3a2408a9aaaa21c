"""The exchange: the only layer that knows an HTTP library.

An exchange takes one prepared request and returns the answer's status, ``Retry-After`` and
body (read through :class:`._inflate.CappedBody`), or raises one of two errors that say how far
the request got: :class:`NotSent` (it provably never left: a refused or timed-out connect) or
:class:`MayHaveArrived` (anything after the first byte may have been written). An answer whose
body cannot be read raises ``ResponseError``. Everything that decides (retries, caps, the
outcome of a send, redaction, logging, the rate limit) sits above, in ``_transport.py``, and is
the same for every engine, so that a new engine cannot weaken a guarantee by being new.

Two engines: httpx (``_exchange_httpx.py``, the default, asyncio and trio, honours a caller's
``http_client=`` or ``transport=``) and aiohttp (``_exchange_aiohttp.py``, the ``[aiohttp]``
extra, asyncio only, about a third of httpx's CPU per request). ``backend="auto"`` picks aiohttp
when it is installed (aiohttp >= 3.11: an older one cannot keep the promises, and ``auto`` then
says why at DEBUG), no httpx object was given, and the running loop is asyncio; under trio it
is httpx. This module also holds what both engines share: the choice, and the proxy read from
the environment.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import logging
import platform
import re
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from . import _constants as C
from ._config import Backend
from ._exceptions import ValidationError
from ._request import PreparedRequest

BACKENDS: tuple[Backend, ...] = ("httpx", "aiohttp", "auto")


@dataclass(frozen=True, slots=True)
class Reply:
    """What came back: a body only for a 200 (an error page changes no outcome)."""

    status_code: int
    body: bytes
    retry_after: str | None = None


class NotSent(Exception):
    """The request provably never left this process: safe to retry, even a send."""

    def __init__(self, what: str, detail: str | None = None) -> None:
        self.what = what
        self.detail = detail
        super().__init__(what)


class MayHaveArrived(Exception):
    """The request may have reached the gateway; ``transient`` if trying again could help."""

    def __init__(self, what: str, detail: str | None = None, *, transient: bool = True) -> None:
        self.what = what
        self.detail = detail
        self.transient = transient
        super().__init__(what)


class Exchange(Protocol):
    """One engine: a round trip per call, bounded by the attempt's timeout; ``aclose`` frees all."""

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


def check_backend(backend: object, *, httpx_given: bool) -> Backend:
    """Refuse, before any I/O, a backend that cannot run as configured."""
    if backend not in BACKENDS:
        raise ValidationError("backend", "must be one of httpx, aiohttp, auto", backend)
    if backend == "aiohttp":
        if httpx_given:
            raise ValidationError(
                "backend",
                "aiohttp cannot use http_client= or transport= (httpx objects); use"
                " backend='httpx' with them",
            )
        problem = aiohttp_problem()
        if problem is not None:
            raise ValidationError("backend", problem)
    elif backend == "auto" and not httpx_given:
        problem = aiohttp_problem()
        if problem is not None:
            logger.debug("backend='auto' takes httpx: %s", problem)
    return backend


def resolve_backend(
    backend: Backend, library: str, *, httpx_given: bool
) -> Literal["httpx", "aiohttp"]:
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
def user_agent(engine: Literal["httpx", "aiohttp"]) -> str:
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
