"""Scale data for ``make bench``: 10,000 organizations so the measured queries run on realistically sized
tables and indexes."""

from __future__ import annotations

import time
import uuid

BENCH_ORGS, MEMBERS_PER_ORG, PROJECTS_PER_ORG, PROJECT_MEMBERS = 10_000, 10, 5, 3
ROLES = ["owner", "admin", "manager", "member", "member", "member", "member", "member", "auditor", "member"]


async def load_scale_data(superuser_dsn: str) -> str:
    """10,000 organizations x 10 members x 5 projects (3 members each), bulk-copied as the superuser
    (loading is not what is measured). Idempotent: a second run finds the data and keeps it."""
    import asyncpg

    connection = await asyncpg.connect(superuser_dsn.rsplit("/", 1)[0] + "/worktime")
    try:
        existing = await connection.fetchval("SELECT count(*) FROM organizations WHERE slug LIKE 'bench-%'")
        if existing >= BENCH_ORGS:
            return f"scale data present ({existing} organizations)"
        started = time.perf_counter()
        orgs = [(uuid.uuid4(), f"bench-{n}", f"Bench {n}") for n in range(BENCH_ORGS)]
        users: list[tuple[uuid.UUID, str]] = []
        memberships: list[tuple[uuid.UUID, uuid.UUID, str]] = []
        projects: list[tuple[uuid.UUID, uuid.UUID, str, str]] = []
        assignments: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID, str]] = []
        for org_id, _, _ in orgs:
            people = [uuid.uuid4() for _ in range(MEMBERS_PER_ORG)]
            users.extend((person, f"{person}@bench.test") for person in people)
            memberships.extend((org_id, person, ROLES[i]) for i, person in enumerate(people))
            for p in range(PROJECTS_PER_ORG):
                project_id = uuid.uuid4()
                projects.append((project_id, org_id, f"Project {p}", f"P{p}"))
                assignments.extend(
                    (org_id, project_id, people[(p + k) % MEMBERS_PER_ORG], ["lead", "contributor", "viewer"][k])
                    for k in range(PROJECT_MEMBERS)
                )
        async with connection.transaction():
            await connection.copy_records_to_table("users", records=users, columns=["id", "email"])
            await connection.copy_records_to_table("organizations", records=orgs, columns=["id", "slug", "name"])
            await connection.copy_records_to_table(
                "memberships", records=memberships, columns=["org_id", "user_id", "role"]
            )
            await connection.copy_records_to_table(
                "projects", records=projects, columns=["id", "org_id", "name", "key"]
            )
            await connection.copy_records_to_table(
                "project_memberships", records=assignments, columns=["org_id", "project_id", "user_id", "role"]
            )
        await connection.execute("ANALYZE")
        return (
            f"loaded {len(orgs)} organizations, {len(memberships)} memberships, {len(projects)} projects, "
            f"{len(assignments)} project roles in {time.perf_counter() - started:.1f} s"
        )
    finally:
        await connection.close()
