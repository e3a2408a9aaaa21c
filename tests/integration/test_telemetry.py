"""OpenTelemetry spans and metrics on both engines (the SDK's in-memory exporters), the
``MYSMS_LOG`` switch, and the log lines' ``extra=`` fields.

The SDK providers are set as the API's globals for one test (patched, since the real setters
work once per process, and other tests must keep running without any).
"""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.metrics import _internal as metrics_api
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mysms_async import (
    AuthError,
    DeliveryUnknownError,
    Message,
    MySMSClient,
    ResponseError,
    _telemetry,
)
from mysms_async.campaigns import Journal
from mysms_async.testing import DEMO_PASSWORD, DropAfterRead, FakeGateway, HTTPErrorStatus

ENGINES = ["httpx", "aiohttp"]


@dataclass
class Otel:
    spans: InMemorySpanExporter
    reader: InMemoryMetricReader

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def sums(self) -> dict[tuple[str, tuple[tuple[str, Any], ...]], Any]:
        """Every data point's value (a counter's sum, a histogram's count), by name and labels."""
        found: dict[tuple[str, tuple[tuple[str, Any], ...]], Any] = {}
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        labels = tuple(sorted((point.attributes or {}).items()))
                        value = getattr(point, "value", None)
                        found[metric.name, labels] = (
                            point.count if value is None else value  # type: ignore[attr-defined]
                        )
        return found

    def total(self, name: str, **labels: Any) -> Any:
        return sum(
            value
            for (metric, attributes), value in self.sums().items()
            if metric == name and all(dict(attributes).get(k) == v for k, v in labels.items())
        )


@pytest.fixture
def otel(monkeypatch: pytest.MonkeyPatch) -> Iterator[Otel]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    # The API's globals (what set_tracer_provider / set_meter_provider set, and what the
    # library reads), for this test only: the real setters work once per process.
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", tracer_provider)
    monkeypatch.setattr(metrics_api, "_METER_PROVIDER", meter_provider)
    yield Otel(exporter, reader)
    tracer_provider.shutdown()
    meter_provider.shutdown()


def client_for(gateway: FakeGateway, url: str, engine: str, **kwargs: Any) -> MySMSClient:
    return gateway.client(base_url=url, http_client=None, backend=engine, retry_backoff=0, **kwargs)


def assert_no_credentials(spans: list[ReadableSpan]) -> None:
    for span in spans:
        attributes = dict(span.attributes or {})
        assert "url.full" not in attributes and "http.url" not in attributes
        for value in [span.name, *map(str, attributes.values())]:
            assert DEMO_PASSWORD not in value
            assert DEMO_PASSWORD[:6] not in value
            assert "p=" not in value


@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("engine", ENGINES)
async def test_one_span_per_request_with_what_users_think_in(
    otel: Otel, served: tuple[FakeGateway, str], engine: str, method: str
) -> None:
    gateway, url = served
    async with client_for(gateway, url, engine, http_method=method) as client:
        sent = await client.send("79112223344", "hello")
        await client.status(sent.id or "")
        await client.balance()
    spans = otel.finished()
    assert [span.name for span in spans] == ["mysms send", "mysms status", "mysms balance"]
    send, status, balance = (dict(span.attributes or {}) for span in spans)
    for attributes, operation in ((send, "send"), (status, "status"), (balance, "balance")):
        assert attributes["mysms.operation"] == operation
        assert attributes["mysms.engine"] == engine
        assert attributes["mysms.attempt"] == 1
        assert attributes["http.request.method"] == method
        assert attributes["server.address"] == "127.0.0.1"
        assert attributes["http.response.status_code"] == 200
        assert attributes["mysms.request_state"] == 0
        assert "mysms.campaign" not in attributes
    assert spans[0].kind is trace.SpanKind.CLIENT
    assert send["mysms.message_count"] == 1
    assert send["mysms.messages.accepted"] == 1
    assert send["mysms.messages.refused"] == 0
    assert balance["mysms.message_count"] == 0
    assert_no_credentials(spans)
    assert otel.total("mysms.messages.accepted", **{"mysms.engine": engine}) == 1
    assert otel.total("mysms.request.duration") == 3


@pytest.mark.parametrize("engine", ENGINES)
async def test_counters_for_accepted_refused_failed_and_unknown(
    otel: Otel, served: tuple[FakeGateway, str], engine: str
) -> None:
    gateway, url = served
    async with client_for(gateway, url, engine, batch_size=3) as client:
        results = await client.send_many([Message(f"7911222334{i}", "hello") for i in range(3)])
        assert all(result.ok for result in results)
        gateway.set_balance(gateway.accounts[0].username, 0)
        refused = await client.send("79112223349", "no money")
        assert refused.state is not None and refused.state < 0
        gateway.inject(DropAfterRead(), endpoint="send")
        with pytest.raises(DeliveryUnknownError):
            await client.send("79112223348", "lost answer")
    assert otel.total("mysms.messages.accepted") == 3
    assert otel.total("mysms.messages.refused") == 1
    assert otel.total("mysms.messages.unknown") == 1
    assert otel.total("mysms.messages.failed") == 0
    spans = otel.finished()
    assert spans[-1].status.status_code is trace.StatusCode.ERROR
    assert dict(spans[-1].attributes or {})["error.type"] == "TransportError"
    assert_no_credentials(spans)


async def test_a_send_refused_by_credentials_counts_as_failed(otel: Otel) -> None:
    gateway = FakeGateway()
    async with gateway.client(password="wrong-password") as client:
        with pytest.raises(AuthError):
            await client.send("79112223344", "hello")
    assert otel.total("mysms.messages.failed") == 1
    (span,) = otel.finished()
    attributes = dict(span.attributes or {})
    assert attributes["mysms.request_state"] == -1
    assert attributes["error.type"] == "AuthError"
    assert "wrong-pa" not in str(attributes)


@pytest.mark.parametrize("engine", ENGINES)
async def test_each_attempt_is_a_span(
    otel: Otel, served: tuple[FakeGateway, str], engine: str
) -> None:
    gateway, url = served
    gateway.inject(HTTPErrorStatus(503), endpoint="credit", times=3)
    async with client_for(gateway, url, engine, max_retries=2) as client:
        with pytest.raises(ResponseError):
            await client.balance()
    spans = otel.finished()
    assert [dict(s.attributes or {})["mysms.attempt"] for s in spans] == [1, 2, 3]
    for span in spans:
        attributes = dict(span.attributes or {})
        assert attributes["http.response.status_code"] == 503
        assert attributes["error.type"] == "ResponseError"
    assert otel.total("mysms.request.duration", **{"mysms.operation": "balance"}) == 3


async def test_a_campaign_run_labels_its_spans_and_metrics(otel: Otel, tmp_path: Any) -> None:
    gateway = FakeGateway()
    rows = [{"destination": f"7911222{i:04d}", "text": f"Hello {i}"} for i in range(4)]
    with Journal(f"sqlite:///{tmp_path}/campaign.db") as journal:
        campaign = await journal.create("spring", rows)
        async with gateway.client() as client:
            summary = await campaign.run(client, batch_size=2, worker_id="worker-1")
            await client.balance()  # outside the run: no campaign label
    assert summary.worker.startswith("worker-1/")  # the run id; spans carry the label
    spans = otel.finished()
    sends = [dict(s.attributes or {}) for s in spans if s.name == "mysms send"]
    assert len(sends) == 2
    for attributes in sends:
        assert attributes["mysms.campaign"] == "spring"
        assert attributes["mysms.worker"] == "worker-1"
    assert "mysms.campaign" not in dict(spans[-1].attributes or {})
    labels = {"mysms.campaign": "spring", "mysms.worker": "worker-1"}
    assert otel.total("mysms.messages.accepted", **labels) == 4


async def test_nothing_is_recorded_without_a_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API imported but no SDK set up: the default proxy providers mean off."""
    assert _telemetry._current() is None
    monkeypatch.setitem(sys.modules, "opentelemetry.trace", None)
    monkeypatch.setitem(sys.modules, "opentelemetry.metrics", None)
    assert _telemetry._current() is None
    async with FakeGateway().client() as client:
        await client.balance()


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **env},
        check=False,
    )


def test_the_library_never_imports_opentelemetry() -> None:
    done = run_python(
        """
        import asyncio, sys
        from mysms_async.testing import FakeGateway

        async def main():
            async with FakeGateway().client() as client:
                await client.send("79112223344", "hello")
                await client.balance()

        asyncio.run(main())
        print(sorted(name for name in sys.modules if name.startswith("opentelemetry")))
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# --- MYSMS_LOG and extra= --------------------------------------------------------------------

BALANCE_SCRIPT = """
import asyncio
from mysms_async.testing import FakeGateway

async def main():
    async with FakeGateway().client() as client:
        await client.balance()

asyncio.run(main())
"""


@pytest.mark.parametrize(("level", "shown"), [("debug", True), ("info", False)])
def test_mysms_log_prints_the_librarys_lines(level: str, shown: bool) -> None:
    done = run_python(BALANCE_SCRIPT, MYSMS_LOG=level)
    assert done.returncode == 0, done.stderr
    line = "DEBUG mysms_async: POST credit/json messages=0 status=200 state=0"
    assert (line in done.stderr) is shown
    assert DEMO_PASSWORD not in done.stderr


def test_without_mysms_log_nothing_is_printed() -> None:
    done = run_python(BALANCE_SCRIPT)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_mysms_log_sets_up_one_handler_once(monkeypatch: pytest.MonkeyPatch) -> None:
    library = logging.getLogger("mysms_async")
    monkeypatch.setattr(_telemetry, "_log_handler", None)
    monkeypatch.setattr(library, "level", library.level)
    before = list(library.handlers)
    try:
        handler = _telemetry.configure_logging_from_env({"MYSMS_LOG": "debug"})
        assert handler is not None and library.level == logging.DEBUG
        assert _telemetry.configure_logging_from_env({"MYSMS_LOG": "debug"}) is handler
        assert library.handlers == [*before, handler]
    finally:
        library.handlers = before
    monkeypatch.setattr(_telemetry, "_log_handler", None)
    assert _telemetry.configure_logging_from_env({}) is None
    assert library.handlers == before


async def test_log_lines_carry_their_fields_as_extra(caplog: pytest.LogCaptureFixture) -> None:
    gateway = FakeGateway()
    gateway.inject(HTTPErrorStatus(503), endpoint="credit")
    caplog.set_level(logging.DEBUG, logger="mysms_async")
    async with gateway.client(retry_backoff=0) as client:
        await client.balance()
    attempts = [r for r in caplog.records if getattr(r, "mysms_attempt", None) is not None]
    assert [(r.mysms_attempt, r.mysms_status) for r in attempts] == [(1, 503), (2, 200)]  # type: ignore[attr-defined]
    first = attempts[0]
    assert first.mysms_method == "POST" and first.mysms_path == "credit/json"  # type: ignore[attr-defined]
    assert first.mysms_messages == 0 and first.mysms_elapsed_ms >= 0  # type: ignore[attr-defined]
    (retry,) = [r for r in caplog.records if getattr(r, "mysms_retry", None) is not None]
    assert retry.mysms_retry == 1 and retry.mysms_max_retries == 2  # type: ignore[attr-defined]
    assert "503" in retry.mysms_error  # type: ignore[attr-defined]
