"""The job worker: one process running dramatiq worker threads for every actor.

We run dramatiq's ``Worker`` directly rather than its CLI: the CLI's forked children can receive a
second SIGTERM and exit their main thread while consumer threads keep the process alive. Here one
signal means one orderly stop (finish the messages in hand, then close the broker). Run more
processes for more throughput.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import dramatiq
import structlog

from backend.core import jobs, metrics, schedule
from backend.core.authz import watch_for_reload
from backend.core.logging import configure_logging
from backend.exports import tasks as export_tasks
from backend.orgs import tasks as org_tasks
from backend.reminders import tasks as reminder_tasks
from backend.settings import get_settings
from backend.tenancy import guard

log = structlog.get_logger(__name__)


def run(*, threads: int = 4, shutdown_timeout_seconds: float = 10.0) -> int:
    settings = get_settings()
    configure_logging(level=settings.log_level, json=settings.json_logs)
    import backend.tasks  # noqa: F401  (registers every actor on the broker)

    broker = jobs.broker()
    stopping = threading.Event()

    def request_stop(signum: int, _: FrameType | None) -> None:
        log.info("worker_stopping", signal=signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGHUP, lambda *_: guard.policy.reload())
    watch_for_reload(settings.redis_url, guard.policy.reload, stopping)

    if settings.worker_metrics_port:  # a separate port: workers have no HTTP app to guard it with a token
        metrics.serve_separately(settings.worker_metrics_port)
    worker = dramatiq.Worker(broker, worker_threads=threads)
    worker.start()
    log.info("worker_started", threads=threads, actors=sorted(broker.get_declared_actors()))
    # Periodic jobs: every worker offers them, one per interval gets through (docs/operations.md).
    schedule.start(
        settings.redis_url,
        [
            schedule.Periodic(
                "export-sweep",
                settings.export_sweep_interval_seconds,
                lambda: jobs.send(export_tasks.sweep_exports),
            ),
            schedule.Periodic(
                "accounts-follow",
                settings.accounts_follow_interval_seconds,
                lambda: jobs.send("follow_keycloak_accounts"),
            ),
            schedule.Periodic(
                "accounts-reconcile",
                settings.accounts_reconcile_interval_seconds,
                lambda: jobs.send("reconcile_keycloak_accounts"),
            ),
            schedule.Periodic(
                "audit-anchors",
                settings.audit_anchor_interval_seconds,
                lambda: jobs.send(org_tasks.anchor_audit_heads),
            ),
            schedule.Periodic(
                "offboarding-purge",
                settings.offboarding_interval_seconds,
                lambda: jobs.send(org_tasks.purge_offboarded_organizations),
            ),
            schedule.Periodic(
                "reminders",
                settings.reminder_interval_seconds,
                lambda: jobs.send(reminder_tasks.evaluate_reminders),
            ),
        ],
        stopping,
    )
    stopping.wait()
    worker.stop(timeout=int(shutdown_timeout_seconds * 1000))
    broker.close()
    metrics.process_exiting()
    log.info("worker_stopped")
    return 0
