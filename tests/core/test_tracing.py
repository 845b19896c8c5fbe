"""OpenTelemetry traces: off by default (and then never imported), on with an exporter: a server span per
request carrying the request id, with the request's SQL as its child spans."""

from __future__ import annotations

import subprocess
import sys
import uuid
from typing import Any

import httpx
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from tests.conftest import Tokens
from tests.infra import ROOT


def test_off_by_default_and_nothing_of_tracing_is_loaded(migrated: dict[str, str]) -> None:
    """FastAPI (0.165: its own telemetry hooks) and redis-py (its observability module) import parts of
    OpenTelemetry themselves at import time, whatever we do. Off, we add nothing: no instrumentation, no
    exporter, no SDK tracer, no tracer provider, no middleware."""
    # A fresh interpreter: this test process has imported all of it already.
    script = (
        "import sys, asyncio, httpx\n"
        "from backend.app import create_app\n"
        "from backend.settings import Settings\n"
        "app = create_app(Settings(env='test'))\n"
        "async def main():\n"
        "    async with app.router.lifespan_context(app):\n"
        "        transport = httpx.ASGITransport(app=app)\n"
        "        async with httpx.AsyncClient(transport=transport, base_url='http://api.test') as c:\n"
        "            assert (await c.get('/api/v1/me')).status_code == 401\n"
        "            assert (await c.get('/health/ready')).status_code in (200, 503)\n"
        "asyncio.run(main())\n"
        "ours = ('opentelemetry.instrumentation', 'opentelemetry.exporter', 'opentelemetry.sdk.trace')\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(ours))\n"
        "assert not loaded, loaded\n"
        "from opentelemetry import trace\n"
        "assert type(trace.get_tracer_provider()).__name__ == 'ProxyTracerProvider', trace.get_tracer_provider()\n"
        "from backend.core import tracing\n"
        "assert tracing.tag_request is None\n"
        "assert not hasattr(app, '_original_build_middleware_stack')  # FastAPIInstrumentor's mark\n"
        "print('clean')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("clean")


def _ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[int]:
    chain: list[int] = []
    parent = span.parent
    while parent is not None:
        chain.append(parent.span_id)
        found = by_id.get(parent.span_id)
        parent = found.parent if found is not None else None
    return chain


async def test_a_request_is_a_server_span_with_its_request_id_and_db_children(
    settings: Any, tokens: Tokens, demo_orgs: dict[str, uuid.UUID]
) -> None:
    from backend.app import create_app
    from backend.core import tracing

    exporter = InMemorySpanExporter()
    app = create_app(settings, span_exporter=exporter)
    request_id = uuid.uuid4().hex
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
            response = await http.get(
                f"/api/v1/orgs/{demo_orgs['acme']}",
                headers={**await tokens.headers("alice"), "X-Request-ID": request_id},
            )
            assert response.status_code == 200, response.text
            generated = await http.get("/api/v1/me", headers=await tokens.headers("alice"))
            assert generated.status_code == 200
    assert tracing.tag_request is None  # the lifespan's end switched it off again

    spans = exporter.get_finished_spans()
    by_id = {span.context.span_id: span for span in spans}
    servers = [span for span in spans if span.kind == SpanKind.SERVER]
    assert len(servers) == 2, [span.name for span in spans]
    first, second = servers
    assert first.attributes is not None
    assert first.attributes[tracing.REQUEST_ID_ATTRIBUTE] == request_id
    assert "/api/v1/orgs/{org_id}" in first.name
    # An id the edge made up is on the span too, the same one the response names.
    assert second.attributes is not None
    assert second.attributes[tracing.REQUEST_ID_ATTRIBUTE] == generated.headers["x-request-id"]

    db = [
        span
        for span in spans
        if span.instrumentation_scope is not None
        and span.instrumentation_scope.name == "opentelemetry.instrumentation.sqlalchemy"
    ]
    under_first = [span for span in db if first.context.span_id in _ancestors(span, by_id)]
    assert under_first, [(span.name, span.parent) for span in db]
    assert all(span.context.trace_id == first.context.trace_id for span in under_first)
    assert any("app_enter" in str((span.attributes or {}).get("db.statement", "")) for span in under_first), [
        dict(span.attributes or {}) for span in under_first
    ]
