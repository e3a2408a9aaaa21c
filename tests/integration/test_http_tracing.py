"""Stock OpenTelemetry HTTP instrumentation records a GET's password; the client warns.

The real packages (opentelemetry-instrumentation-httpx and -aiohttp-client) are switched on for
one test each and off again after it. They record ``url.full``: with GET it holds ``p=`` and
the password (why the client warns), with POST (the default) it does not.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mysms_async import CredentialsInURLWarning, MySMSClient, MySMSWarning, _telemetry
from mysms_async.testing import DEMO_PASSWORD, FakeGateway

INSTRUMENTORS = {"httpx": HTTPXClientInstrumentor, "aiohttp": AioHttpClientInstrumentor}


@pytest.fixture(autouse=True)
def warn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The warning is once per process: each test starts as a fresh process would."""
    monkeypatch.setattr(_telemetry, "_warned_get", False)


@pytest.fixture(params=["httpx", "aiohttp"])
def instrumented(request: pytest.FixtureRequest) -> Iterator[tuple[str, InMemorySpanExporter]]:
    engine = str(request.param)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor: Any = INSTRUMENTORS[engine]()
    instrumentor.instrument(tracer_provider=provider)
    try:
        yield engine, exporter
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


def urls(exporter: InMemorySpanExporter) -> list[str]:
    """Each span's URL: ``url.full`` (stable HTTP conventions) or ``http.url`` (the older ones,
    still the default unless ``OTEL_SEMCONV_STABILITY_OPT_IN=http``)."""
    found = []
    for span in exporter.get_finished_spans():
        attributes = dict(span.attributes or {})
        found.append(str(attributes.get("url.full") or attributes.get("http.url")))
    return found


async def test_get_leaks_the_password_to_http_tracing_and_the_client_warns(
    instrumented: tuple[str, InMemorySpanExporter], served: tuple[FakeGateway, str]
) -> None:
    engine, exporter = instrumented
    gateway, url = served
    with pytest.warns(CredentialsInURLWarning, match=r"url\.full.*POST") as caught:
        client = MySMSClient("demo", DEMO_PASSWORD, base_url=url, backend=engine, http_method="GET")
    assert issubclass(CredentialsInURLWarning, MySMSWarning)
    assert caught[0].filename == __file__  # points at the line that built the client
    assert DEMO_PASSWORD not in str(caught[0].message)
    async with client:
        await client.balance()
    (leaked,) = urls(exporter)
    assert f"p={DEMO_PASSWORD}" in leaked  # what the warning is about

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per process: a second GET client is quiet
        gateway.client(base_url=url, http_client=None, backend=engine, http_method="GET")


async def test_post_is_clean_under_http_tracing_and_does_not_warn(
    instrumented: tuple[str, InMemorySpanExporter], served: tuple[FakeGateway, str]
) -> None:
    engine, exporter = instrumented
    gateway, url = served
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client = gateway.client(base_url=url, http_client=None, backend=engine)
    async with client:
        await client.balance()
    (clean,) = urls(exporter)
    assert clean.endswith("/credit/json")
    assert "p=" not in clean and DEMO_PASSWORD not in clean


def test_get_without_http_tracing_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FakeGateway().client(http_method="GET")


@pytest.mark.parametrize("engine", ["httpx", "aiohttp"])
def test_only_the_engine_in_use_counts(engine: str) -> None:
    """aiohttp instrumented and backend="httpx" (or the reverse): that tracing sees nothing."""
    other: Any = INSTRUMENTORS["aiohttp" if engine == "httpx" else "httpx"]()
    other.instrument(tracer_provider=TracerProvider())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            MySMSClient("demo", DEMO_PASSWORD, backend=engine, http_method="GET")
        with pytest.warns(CredentialsInURLWarning):
            MySMSClient("demo", DEMO_PASSWORD, backend="auto", http_method="GET")
    finally:
        other.uninstrument()


async def test_an_instrumented_http_client_of_the_caller_warns(
    served: tuple[FakeGateway, str],
) -> None:
    _, url = served
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    async with httpx.AsyncClient() as http_client:
        HTTPXClientInstrumentor.instrument_client(http_client, tracer_provider=provider)
        with pytest.warns(CredentialsInURLWarning):
            client = MySMSClient(
                "demo", DEMO_PASSWORD, base_url=url, http_client=http_client, http_method="GET"
            )
        async with client:
            await client.balance()
        HTTPXClientInstrumentor.uninstrument_client(http_client)
    (leaked,) = urls(exporter)
    assert "p=" in leaked
