"""Optional OpenTelemetry traces of the API: off unless ``WORKTIME_OTEL_ENDPOINT`` is set.

Off costs nothing: this module imports no OpenTelemetry at import time, ``create_app`` calls
:func:`start` only when tracing is on, and the edge's one check per request is that :data:`tag_request`
is None. On, it uses the maintained instrumentations: FastAPI (a server span per request, outermost),
SQLAlchemy (a span per statement on the API's engine) and Redis (a span per command), exported over
OTLP/HTTP in batches. The edge hands the request id to :data:`tag_request`, which puts it on the server
span (``request.id``), so a trace and the access line / audit event of the same request meet.

Only the API process is traced; the worker is not (yet).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from sqlalchemy.ext.asyncio import AsyncEngine

    from backend.settings import Settings

REQUEST_ID_ATTRIBUTE = "request.id"
#: Not traced: probes and scrapes would drown the traces that matter.
EXCLUDED_URLS = "/health/.*,/metrics"

#: Set while tracing is on: puts the request id on the current (server) span. The edge calls it.
tag_request: Callable[[str], None] | None = None


class Tracing:
    """Tracing switched on for one application: its provider and the instrumentations it installed."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self._engines: list[AsyncEngine] = []

    def instrument_engine(self, engine: AsyncEngine) -> None:
        """Trace the statements of ``engine`` (the API's runtime engine, made in the lifespan)."""
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        # The instrumentation declares SQLAlchemy < 2.1 and silently does nothing on 2.1 unless told to skip
        # that check; tests/core/test_tracing.py proves its spans on the SQLAlchemy we run.
        SQLAlchemyInstrumentor().instrument(
            engine=engine.sync_engine, tracer_provider=self.provider, skip_dep_check=True
        )
        self._engines.append(engine)

    def shutdown(self) -> None:
        """Undo the instrumentations (they patch libraries process-wide) and flush the last spans."""
        global tag_request
        from opentelemetry.instrumentation.redis import RedisInstrumentor
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        tag_request = None
        if self._engines:
            SQLAlchemyInstrumentor().uninstrument()
            self._engines.clear()
        RedisInstrumentor().uninstrument()
        self.provider.shutdown()


def _tag(request_id: str) -> None:
    from opentelemetry import trace

    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute(REQUEST_ID_ATTRIBUTE, request_id)


def start(app: FastAPI, settings: Settings, exporter: SpanExporter | None = None) -> Tracing:
    """Switch tracing on for ``app``: OTLP/HTTP to ``settings.otel_endpoint`` in batches, or to
    ``exporter`` span by span (tests pass an in-memory one)."""
    global tag_request
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": settings.otel_service_name}))
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otel_endpoint)))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    # Only the server span per request: the ASGI send/receive spans would double the volume for nothing.
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider, excluded_urls=EXCLUDED_URLS, exclude_spans=["receive", "send"]
    )
    RedisInstrumentor().instrument(tracer_provider=provider)
    tag_request = _tag
    return Tracing(provider)
