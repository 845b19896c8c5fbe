"""Command line: ``python -m backend <command>`` (also installed as ``worktime``)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile

from backend.settings import get_settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several processes: their metrics meet in files that any one of them adds up (backend/core/metrics.py).
        # The children inherit the variable before they import prometheus-client.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="worktime-metrics-")
    uvicorn.run(
        "backend.app:create_app",
        factory=True,
        host=args.host or settings.api_host,
        port=args.port or settings.api_port,
        workers=args.workers,
        proxy_headers=True,
        log_config=None,
    )
    return 0


def _worker(args: argparse.Namespace) -> int:
    from backend.worker import run

    return run(threads=args.threads)


def _migrate(args: argparse.Namespace) -> int:
    from alembic import command

    from backend.migrations import alembic_config

    config = alembic_config()
    if args.downgrade:
        command.downgrade(config, args.downgrade)
    else:
        command.upgrade(config, args.revision)
    return 0


def _makemigration(args: argparse.Namespace) -> int:
    from alembic import command

    from backend.migrations import alembic_config

    command.revision(alembic_config(), message=args.message, autogenerate=True)
    return 0


def _seed(_: argparse.Namespace) -> int:
    from backend.core.logging import configure_logging
    from backend.seed import seed

    settings = get_settings()
    configure_logging(level=settings.log_level, json=settings.json_logs)
    asyncio.run(seed(settings))
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    from backend.ops import verify_audit

    return asyncio.run(verify_audit(get_settings(), args.org))


def _audit_anchor(_: argparse.Namespace) -> int:
    from backend.core.db import Database
    from backend.orgs.service import anchor_all

    async def run() -> dict[str, int]:
        db = Database(get_settings(), pool_size=1)
        try:
            return await anchor_all(db, reason="manual")
        finally:
            await db.dispose()

    counts = asyncio.run(run())
    print(f"anchored {counts['anchored']} organizations whose audit head moved ({counts['failed']} failed)")
    return 1 if counts["failed"] else 0


def _export_verify(args: argparse.Namespace) -> int:
    from pathlib import Path

    from backend.exports.signing import verify

    verdict = verify(Path(args.file), Path(args.manifest), args.public_key)
    for line in verdict.ok:
        print(f"ok       {line}")
    for line in verdict.problems:
        print(f"MISMATCH {line}")
    print("VERIFIED" if verdict.valid else "NOT VERIFIED")
    return 0 if verdict.valid else 1


def _export_sweep(args: argparse.Namespace) -> int:
    from backend.core.logging import configure_logging
    from backend.exports.tasks import sweep

    settings = get_settings()
    configure_logging(level=settings.log_level, json=settings.json_logs)
    counts = asyncio.run(sweep(stale_seconds=args.stale_seconds))
    print(f"expired {counts['expired']}, re-sent {counts['resent']}")
    return 0


def _authz_reload(_: argparse.Namespace) -> int:
    from redis.asyncio import Redis

    from backend.core.authz import publish_reload

    async def publish() -> int:
        client = Redis.from_url(get_settings().redis_url, socket_timeout=5, socket_connect_timeout=5)
        try:
            return await publish_reload(client)
        finally:
            await client.aclose()

    receivers = asyncio.run(publish())
    print(f"policy reload sent to {receivers} process(es)")
    return 0


def _keys_rotate(_: argparse.Namespace) -> int:
    from backend.ops import rotate_secret_keys

    counts = asyncio.run(rotate_secret_keys(get_settings()))
    print(", ".join(f"{table}: {count} re-encrypted" for table, count in counts.items()))
    return 0


def _sso_reconcile(args: argparse.Namespace) -> int:
    from backend.core.logging import configure_logging
    from backend.ops import reconcile_sso

    settings = get_settings()
    configure_logging(level=settings.log_level, json=settings.json_logs)
    return asyncio.run(reconcile_sso(settings, dry_run=args.dry_run))


def _orgs_deletions(args: argparse.Namespace) -> int:
    import json

    from backend.orgs.offboarding import list_deletions

    rows = asyncio.run(list_deletions(get_settings(), limit=args.limit, offset=args.offset))
    if args.json:
        print(json.dumps(rows, default=str, indent=2))
        return 0
    for row in rows:
        counts = row["counts"] or {}
        purged = f"{row['purged_at']:%Y-%m-%d %H:%M}Z" if row["purged_at"] else "-"
        print(
            f"{row['status']:<10} {row['slug']} ({row['organization_id']}) asked by"
            f" {row['requested_by_email'] or row['requested_by']} at {row['scheduled_at']:%Y-%m-%d %H:%M}Z,"
            f" purge after {row['purge_after']:%Y-%m-%d %H:%M}Z,"
            f" purged {purged},"
            f" rows {sum(counts.values())} in {sum(1 for n in counts.values() if n)} tables,"
            f" export manifest sha256 {row['export_manifest_sha256'] or '-'}"
            + (f", last error: {row['last_error']}" if row["last_error"] else "")
        )
    if not rows:
        print("no deletions recorded")
    return 0


def _orgs_purge(_: argparse.Namespace) -> int:
    from backend.core.logging import configure_logging
    from backend.orgs.offboarding import purge_due

    settings = get_settings()
    configure_logging(level=settings.log_level, json=settings.json_logs)
    outcomes = asyncio.run(purge_due(settings))
    for outcome in outcomes:
        state = "purged" if outcome.done else f"FAILED: {outcome.error}" if outcome.error else "skipped (locked)"
        print(f"{outcome.organization_id}: {state}")
    print(f"{sum(o.done for o in outcomes)} purged, {sum(o.error is not None for o in outcomes)} failed")
    return 1 if any(o.error for o in outcomes) else 0


def _bench(args: argparse.Namespace) -> int:
    import uvloop

    from backend.bench import main

    # The same event loop uvicorn serves with (it picks uvloop when installed, as here).
    return uvloop.run(main(get_settings(), args.section))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="worktime", description="Worktime platform commands")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the API (uvicorn)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=_serve)

    worker = commands.add_parser("worker", help="run a dramatiq worker for every actor")
    worker.add_argument("--threads", type=int, default=4)
    worker.set_defaults(func=_worker)

    migrate = commands.add_parser("migrate", help="apply migrations as the owner role")
    migrate.add_argument("--revision", default="head", help="upgrade target (default: head)")
    migrate.add_argument("--downgrade", metavar="REVISION", help="downgrade to REVISION (e.g. base)")
    migrate.set_defaults(func=_migrate)

    make = commands.add_parser("makemigration", help="autogenerate a migration from the models")
    make.add_argument("-m", "--message", required=True)
    make.set_defaults(func=_makemigration)

    seed = commands.add_parser("seed", help="load demo organizations and memberships (idempotent)")
    seed.set_defaults(func=_seed)

    audit = commands.add_parser("audit", help="audit trail tools")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser(
        "verify", help="recompute the hash chain and check its signed anchors, report the first broken link"
    )
    verify.add_argument("--org", help="organization id or slug (default: every organization)")
    verify.set_defaults(func=_audit_verify)
    anchor = audit_commands.add_parser("anchor", help="sign and store every organization's audit head that moved")
    anchor.set_defaults(func=_audit_anchor)

    export = commands.add_parser("export", help="export tools")
    export_commands = export.add_subparsers(dest="export_command", required=True)
    verify_export = export_commands.add_parser(
        "verify", help="check an export file against its signed manifest, offline (no database)"
    )
    verify_export.add_argument("file")
    verify_export.add_argument("manifest")
    verify_export.add_argument("--public-key", help="the organization's key: a PEM file, PEM text or base64 raw key")
    verify_export.set_defaults(func=_export_verify)
    sweep_exports = export_commands.add_parser(
        "sweep", help="expire exports past retention and re-send stalled ones (run periodically)"
    )
    sweep_exports.add_argument("--stale-seconds", type=int, help="default: WORKTIME_EXPORT_STALE_SECONDS")
    sweep_exports.set_defaults(func=_export_sweep)

    authz = commands.add_parser("authz", help="authorization policy tools")
    authz_commands = authz.add_subparsers(dest="authz_command", required=True)
    reload = authz_commands.add_parser("reload", help="make every API process and worker re-read the policy")
    reload.set_defaults(func=_authz_reload)

    keys = commands.add_parser("keys", help="secret keys (WORKTIME_SECRET_KEYS) tools")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True)
    rotate = keys_commands.add_parser("rotate", help="re-encrypt every stored secret under the newest key")
    rotate.set_defaults(func=_keys_rotate)
    sso = commands.add_parser("sso", help="enterprise single sign-on tools")
    sso_commands = sso.add_subparsers(dest="sso_command", required=True)
    reconcile = sso_commands.add_parser(
        "reconcile", help="make Keycloak's organizations and their members match the platform; print the changes"
    )
    reconcile.add_argument("--dry-run", action="store_true", help="only print what would change")
    reconcile.set_defaults(func=_sso_reconcile)

    orgs = commands.add_parser("orgs", help="platform operator tools for organizations")
    orgs_commands = orgs.add_subparsers(dest="orgs_command", required=True)
    deletions = orgs_commands.add_parser(
        "deletions", help="the record of deleted (and scheduled) organizations, newest first"
    )
    deletions.add_argument("--json", action="store_true", help="every field, as JSON")
    deletions.add_argument("--limit", type=int, default=100)
    deletions.add_argument("--offset", type=int, default=0)
    deletions.set_defaults(func=_orgs_deletions)
    purge = orgs_commands.add_parser(
        "purge", help="purge now the organizations whose grace period is over (what the workers' tick does)"
    )
    purge.set_defaults(func=_orgs_purge)

    bench = commands.add_parser("bench", help="HTTP load (wrk) on the API next to bare baselines")
    bench.add_argument(
        "--section",
        choices=["all", "http", "tracking", "reports"],
        default="all",
        help="run one part: http (wrk), tracking (time tracking, then reports and exports), reports (reports and"
        " exports only); default all",
    )
    bench.set_defaults(func=_bench)

    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
