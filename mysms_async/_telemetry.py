"""Observability: OpenTelemetry spans and metrics, the ``MYSMS_LOG`` switch, HTTP tracing checks.

Everything the library does for OpenTelemetry lives here; the policy layer (``_transport.py``)
calls :func:`attempt_probe` once per gateway request and :func:`record_final_failure` once per
request that fails for good. Nothing here imports ``opentelemetry``: the API is used only when
the application has imported it already (``sys.modules``) *and* set a tracer or meter provider,
so an app without the ``[otel]`` extra, or with it and no SDK configured, pays one dictionary
look-up per request.

What is recorded (never the URL's query, never a credential: a GET's query holds the password):

* one span per attempt, named ``mysms <operation>`` (``mysms send``, ``mysms status``,
  ``mysms balance``), kind CLIENT, with ``mysms.operation``, ``mysms.engine``,
  ``mysms.message_count``, ``mysms.attempt``, ``mysms.request_state``, ``mysms.endpoint``
  (the path, without query), the standard ``http.request.method``, ``server.address``,
  ``http.response.status_code`` and ``error.type``; a send's answer adds
  ``mysms.messages.accepted`` / ``.refused`` / ``.unknown``;
* counters ``mysms.messages.accepted`` / ``refused`` / ``failed`` / ``unknown`` (a send's final
  outcome per message) and the histogram ``mysms.request.duration`` (seconds per attempt);
* inside a campaign run, ``mysms.campaign`` and ``mysms.worker`` on all of the above.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import urllib.parse
import warnings
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from . import _constants as C
from ._exceptions import CredentialsInURLWarning
from ._exchange import package_version

if TYPE_CHECKING:
    from ._config import Settings
    from ._request import PreparedRequest

#: (campaign name, worker label) while a campaign run sends; read by every span and metric.
_CAMPAIGN: ContextVar[tuple[str, str] | None] = ContextVar("mysms_campaign", default=None)

_SCOPE = "mysms_async"
#: The request's operation as users name it (the gateway calls the balance ``credit``).
_OPERATIONS = {"send": "send", "status": "status", "credit": "balance"}
_OUTCOMES = ("accepted", "refused", "failed", "unknown")


@contextlib.contextmanager
def campaign_attributes(name: str, worker: str) -> Iterator[None]:
    """Label the spans and metrics of everything sent inside the block with a campaign."""
    token = _CAMPAIGN.set((name, worker))
    try:
        yield
    finally:
        _CAMPAIGN.reset(token)


class _Instruments:
    """The tracer and metric instruments of one (tracer provider, meter provider) pair."""

    def __init__(self, tracer_provider: Any, meter_provider: Any) -> None:
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider
        version = package_version()
        self.tracer = (
            None if tracer_provider is None else tracer_provider.get_tracer(_SCOPE, version)
        )
        self.counters: dict[str, Any] = {}
        self.duration: Any = None
        if meter_provider is not None:
            meter = meter_provider.get_meter(_SCOPE, version)
            for outcome in _OUTCOMES:
                self.counters[outcome] = meter.create_counter(
                    f"mysms.messages.{outcome}",
                    unit="{message}",
                    description=f"Messages whose send outcome is {outcome}",
                )
            self.duration = meter.create_histogram(
                "mysms.request.duration",
                unit="s",
                description="Duration of one gateway request (one attempt)",
            )


_instruments: _Instruments | None = None


_UNKNOWN = object()
_TRACE = "opentelemetry.trace"
_METRICS = "opentelemetry.metrics"
_UNSET_TRACERS = ("ProxyTracerProvider", "NoOpTracerProvider")
_UNSET_METERS = ("_ProxyMeterProvider", "NoOpMeterProvider")


def _provider(holder: Any, name: str, api: Any, getter: str, unset: tuple[str, ...]) -> Any:
    """The provider the app set, or None: read from the API's global (``holder.name``, None
    until one is set) rather than through ``getter``, which reads ``os.environ`` on each call
    while none is set; the getter is the fallback for an API that keeps it elsewhere."""
    provider = getattr(holder, name, _UNKNOWN) if holder is not None else _UNKNOWN
    if provider is None:
        return None
    if provider is _UNKNOWN:
        provider = getattr(api, getter)()
    if type(provider).__name__ in unset:
        return None
    return provider


_env_loaded = False


def _current() -> _Instruments | None:
    """The instruments for the providers set now, or None when OpenTelemetry is not set up."""
    global _env_loaded, _instruments
    modules = sys.modules
    trace = modules.get(_TRACE)
    metrics = modules.get(_METRICS)
    if trace is None and metrics is None:
        return None
    if not _env_loaded:
        # Once: a provider named by OTEL_PYTHON_TRACER_PROVIDER / _METER_PROVIDER is loaded
        # (and set as the global) by the first call of the getter.
        _env_loaded = True
        for module, getter in ((trace, "get_tracer_provider"), (metrics, "get_meter_provider")):
            if module is not None:
                getattr(module, getter)()
    tracer_provider = (
        None
        if trace is None
        else _provider(trace, "_TRACER_PROVIDER", trace, "get_tracer_provider", _UNSET_TRACERS)
    )
    meter_provider = (
        None
        if metrics is None
        else _provider(
            modules.get(_METRICS + "._internal"),
            "_METER_PROVIDER",
            metrics,
            "get_meter_provider",
            _UNSET_METERS,
        )
    )
    if tracer_provider is None and meter_provider is None:
        return None
    found = _instruments
    if (
        found is None
        or found.tracer_provider is not tracer_provider
        or found.meter_provider is not meter_provider
    ):
        found = _instruments = _Instruments(tracer_provider, meter_provider)
    return found


def _common(operation: str, engine: str) -> dict[str, Any]:
    attributes: dict[str, Any] = {"mysms.operation": operation, "mysms.engine": engine}
    campaign = _CAMPAIGN.get()
    if campaign is not None:
        attributes["mysms.campaign"], attributes["mysms.worker"] = campaign
    return attributes


def _send_counts(value: object) -> dict[str, int]:
    """Accepted / refused / unknown among a send answer's entries (an entry without an id is
    unknown, as the operations layer reports it)."""
    counts = dict.fromkeys(("accepted", "refused", "unknown"), 0)
    for entry in getattr(value, "data", None) or ():
        state = getattr(entry, "state", 0)
        if isinstance(state, int) and state < 0:
            counts["refused"] += 1
        elif getattr(entry, "id", None):
            counts["accepted"] += 1
        else:
            counts["unknown"] += 1
    return counts


class Probe:
    """One attempt being recorded: a span (when tracing) and its duration (when metering)."""

    __slots__ = ("_attributes", "_count", "_instruments", "_span", "_started", "answer")

    def __init__(
        self,
        instruments: _Instruments,
        attributes: dict[str, Any],
        span_attributes: dict[str, Any],
        count: int,
    ) -> None:
        self._instruments = instruments
        self._attributes = attributes
        self._count = count
        #: The parsed answer of a successful attempt (set by the transport).
        self.answer: object = None
        self._started = time.perf_counter()
        tracer = instruments.tracer
        self._span: Any = None
        if tracer is not None:
            from opentelemetry.trace import SpanKind

            self._span = tracer.start_span(
                f"mysms {attributes['mysms.operation']}",
                kind=SpanKind.CLIENT,
                attributes={**attributes, **span_attributes},
            )

    def finish(
        self,
        status_code: int | None,
        state: int | str,
        error: BaseException | None,
        *,
        unknown: bool,
    ) -> None:
        """End the attempt: ``error`` is what it raised (None on success); ``unknown``: it was
        on the wire when it failed. An attempt that may be retried counts no messages (the
        transport's :func:`record_final_failure` does, once it gives up)."""
        instruments = self._instruments
        attributes = self._attributes
        if instruments.duration is not None:
            instruments.duration.record(time.perf_counter() - self._started, attributes)
        cause = getattr(error, "error", error)  # the transport's internal wrapper holds ours
        counts: dict[str, int] = {}
        if attributes["mysms.operation"] == "send":
            if error is None:
                counts = _send_counts(self.answer)
            elif cause is error:  # not a retryable failure: this attempt is the last
                counts = {"unknown" if unknown else "failed": self._count}
            _add_counts(instruments, attributes, counts)
        span = self._span
        if span is None:
            return
        if status_code is not None:
            span.set_attribute("http.response.status_code", status_code)
        state = getattr(cause, "state", state)
        if isinstance(state, int):
            span.set_attribute("mysms.request_state", int(state))
        for outcome, count in counts.items():
            span.set_attribute(f"mysms.messages.{outcome}", count)
        if cause is not None:
            from opentelemetry.trace import Status, StatusCode

            name = type(cause).__name__
            span.set_attribute("error.type", name)
            span.set_status(Status(StatusCode.ERROR, name))
        span.end()


def _add_counts(
    instruments: _Instruments, attributes: dict[str, Any], counts: dict[str, int]
) -> None:
    for outcome, count in counts.items():
        counter = instruments.counters.get(outcome)
        if counter is not None and count:
            counter.add(count, attributes)


def attempt_probe(
    prepared: PreparedRequest, engine: str, settings: Settings, attempt: int
) -> Probe | None:
    """Start recording one attempt; None (at the cost of a dictionary look-up) when
    OpenTelemetry is not imported or no provider is set."""
    instruments = _current()
    if instruments is None:
        return None
    attributes = _common(_OPERATIONS.get(prepared.operation, prepared.operation), engine)
    span_attributes = {
        "mysms.message_count": prepared.count,
        "mysms.attempt": attempt,
        "mysms.endpoint": prepared.path.split("?", 1)[0],
        "http.request.method": prepared.method,
        "server.address": _host(settings.base_url),
    }
    return Probe(instruments, attributes, span_attributes, prepared.count)


def record_final_failure(operation: str, engine: str, count: int, *, unknown: bool) -> None:
    """A send's request failed for good after its attempts: its messages are failed, or unknown
    when the gateway may have taken them."""
    if operation != "send" or not count:
        return
    instruments = _current()
    if instruments is None:
        return
    _add_counts(
        instruments, _common(operation, engine), {"unknown" if unknown else "failed": count}
    )


def _host(base_url: str) -> str:
    return urllib.parse.urlsplit(base_url).hostname or ""


# MYSMS_LOG ---------------------------------------------------------------------------------

ENV_LOG = "MYSMS_LOG"
_LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}
_log_handler: logging.Handler | None = None


def configure_logging_from_env(environ: Any = None) -> logging.Handler | None:
    """``MYSMS_LOG=debug|info``: print the library's own log lines to stderr.

    Set up once per process (the first client built while the variable is set); without the
    variable nothing is touched, and the application's logging configuration decides.
    """
    global _log_handler
    if _log_handler is not None:
        return _log_handler
    env = os.environ if environ is None else environ
    value = env.get(ENV_LOG)
    if not value:
        return None
    level = _LOG_LEVELS.get(value.strip().lower())
    if level is None:
        logging.getLogger(C.LOGGER_NAME).warning(
            "%s=%r is not one of debug, info: ignored", ENV_LOG, value[:20]
        )
        return None
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(level)
    library = logging.getLogger(C.LOGGER_NAME)
    library.addHandler(handler)
    library.setLevel(level)
    _log_handler = handler
    return handler


# HTTP tracing that would record a GET's password ---------------------------------------------


def http_tracing_active(http_client: object = None, backend: str = "auto") -> str | None:
    """The HTTP instrumentation that records full URLs and is active now, or None.

    opentelemetry-instrumentation-httpx wraps ``httpx.AsyncHTTPTransport.handle_async_request``
    (wrapt: the wrapper has ``__wrapped__``), or marks one client with
    ``_is_instrumented_by_opentelemetry``; -aiohttp-client wraps ``aiohttp.ClientSession.__init__``.
    Read from the classes already imported, never importing anything; only the engines
    ``backend`` may use count.
    """
    if getattr(http_client, "_is_instrumented_by_opentelemetry", False):
        return "opentelemetry-instrumentation-httpx"
    httpx = sys.modules.get("httpx")
    if (
        backend != "aiohttp"
        and httpx is not None
        and hasattr(httpx.AsyncHTTPTransport.handle_async_request, "__wrapped__")
    ):
        return "opentelemetry-instrumentation-httpx"
    aiohttp = sys.modules.get("aiohttp")
    if (
        backend != "httpx"
        and aiohttp is not None
        and hasattr(aiohttp.ClientSession.__init__, "__wrapped__")
    ):
        return "opentelemetry-instrumentation-aiohttp-client"
    return None


_warned_get = False


def warn_if_get_traced(http_method: str, backend: str, http_client: object = None) -> None:
    """Warn once per process when a GET client is built while HTTP tracing records URLs."""
    global _warned_get
    if http_method != "GET" or _warned_get:
        return
    instrumentation = http_tracing_active(http_client, backend)
    if instrumentation is None:
        return
    _warned_get = True
    warnings.warn(
        f'http_method="GET" while {instrumentation} is active: it records each request\'s full'
        " URL (url.full, or http.url in the older conventions) in its spans, and a GET's query"
        " string holds the password, so every"
        ' trace would carry it; use http_method="POST" (the default), which keeps the'
        " credentials in the request body",
        CredentialsInURLWarning,
        stacklevel=3,
    )
