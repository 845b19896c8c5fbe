"""The schema can be distributed by org_id (Citus): read from the migrated catalog, not from the models."""

from __future__ import annotations

from typing import Any

# Tables without a tenant: reference tables in Citus (users, organizations) or local to the coordinator
# (the outbox: nullable org_id for tenantless jobs; alembic_version). docs/operations.md "Citus".
# org_deletions: the record of deleted organizations, kept outside every tenant (docs/operations.md).
NOT_DISTRIBUTED = {"users", "organizations", "outbox", "alembic_version", "org_deletions"}

KEYS = """
    SELECT c.relname AS table_name, f.contype::text AS contype, f.conname, f.confrelid::regclass::text AS referenced,
           (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(f.conkey) WITH ORDINALITY k(att, ord)
              JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = k.att) AS columns
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
    LEFT JOIN pg_constraint f ON f.conrelid = c.oid AND f.contype IN ('p', 'f')
    WHERE c.relkind IN ('r', 'p')
    ORDER BY 1, 3
"""


async def test_every_tenant_key_starts_with_org_id_and_every_tenant_reference_carries_it(owner_db: Any) -> None:
    rows = await owner_db.fetch(KEYS)
    tables = {row["table_name"] for row in rows}
    tenant_tables = tables - NOT_DISTRIBUTED
    assert {"projects", "time_entries", "tasks", "audit_events"} <= tenant_tables
    primary = {row["table_name"]: row["columns"] for row in rows if row["contype"] == "p"}
    assert sorted(t for t in tenant_tables if t not in primary) == []
    assert {t: primary[t] for t in tenant_tables if primary[t][0] != "org_id"} == {}
    # A foreign key between two tenant tables must include org_id (co-located joins, no cross-tenant link).
    # time_entries.task_id is re-keyed on main (issue 19, the lead's part).
    crossing = [
        (row["table_name"], row["conname"], row["columns"])
        for row in rows
        if row["contype"] == "f"
        and row["referenced"] in tenant_tables
        and row["table_name"] in tenant_tables
        and "org_id" not in (row["columns"] or [])
        and not (row["table_name"] == "time_entries" and list(row["columns"]) == ["task_id"])
    ]
    assert crossing == []
