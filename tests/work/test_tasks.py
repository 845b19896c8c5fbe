from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.conftest import DEMO_IDS, Tokens


async def test_numbers_refs_and_concurrent_allocation(
    client: httpx.AsyncClient, tokens: Tokens, team: dict[str, Any]
) -> None:
    carol = await tokens.headers("carol")
    first = await client.post(team["tasks"], json={"title": "First"}, headers=carol)
    assert first.status_code == 201, first.text
    assert (first.json()["number"], first.json()["ref"]) == (1, f"{team['key']}-1")
    made = await asyncio.gather(
        *(client.post(team["tasks"], json={"title": f"Race {i}"}, headers=carol) for i in range(12))
    )
    assert all(r.status_code == 201 for r in made), [r.text for r in made if r.status_code != 201]
    assert sorted(r.json()["number"] for r in made) == list(range(2, 14))
    listed = (await client.get(team["tasks"], params={"limit": 5, "offset": 10}, headers=carol)).json()
    assert listed["total"] == 13
    assert [t["number"] for t in listed["items"]] == [11, 12, 13]


async def test_assignees_must_work_on_the_project(
    client: httpx.AsyncClient, tokens: Tokens, team: dict[str, Any]
) -> None:
    carol = await tokens.headers("carol")
    for outsider in ("heidi", "erin"):  # not a member; an auditor only views
        refused = await client.post(
            team["tasks"], json={"title": "X", "assignee_ids": [str(DEMO_IDS[outsider])]}, headers=carol
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["field"] == "assignee_ids"
    ok = await client.post(
        team["tasks"],
        json={"title": "Both", "assignee_ids": [str(DEMO_IDS["dave"]), str(DEMO_IDS["bob"])]},
        headers=carol,
    )
    assert ok.status_code == 201, ok.text
    assert set(ok.json()["assignee_ids"]) == {str(DEMO_IDS["dave"]), str(DEMO_IDS["bob"])}
    # Nothing half written: the refused creations used no task row.
    assert (await client.get(team["tasks"], headers=carol)).json()["total"] == 1


async def test_contributors_update_their_own_tasks_and_leads_manage_all(
    client: httpx.AsyncClient, tokens: Tokens, team: dict[str, Any], owner_db: Any
) -> None:
    carol, dave, erin = await tokens.headers("carol"), await tokens.headers("dave"), await tokens.headers("erin")
    mine = (
        await client.post(
            team["tasks"], json={"title": "Dave's", "assignee_ids": [str(DEMO_IDS["dave"])]}, headers=carol
        )
    ).json()
    other = (await client.post(team["tasks"], json={"title": "Not Dave's"}, headers=carol)).json()
    done = await client.patch(f"{team['tasks']}/{mine['id']}", json={"status": "done"}, headers=dave)
    assert done.status_code == 200 and done.json()["completed_at"]
    reopened = await client.patch(f"{team['tasks']}/{mine['id']}", json={"status": "in_progress"}, headers=dave)
    assert reopened.json()["completed_at"] is None
    assert (
        await client.patch(f"{team['tasks']}/{other['id']}", json={"title": "Mine now"}, headers=dave)
    ).status_code == 403
    assert (
        await client.patch(f"{team['tasks']}/{other['id']}", json={"title": "Read"}, headers=erin)
    ).status_code == 403
    assert (await client.get(f"{team['tasks']}/{other['id']}", headers=erin)).status_code == 200
    # Contributors create tasks; leads reassign any.
    assert (await client.post(team["tasks"], json={"title": "By dave"}, headers=dave)).status_code == 201
    moved = await client.patch(
        f"{team['tasks']}/{other['id']}",
        json={"assignee_ids": [str(DEMO_IDS["dave"])], "labels": ["Bug"]},
        headers=carol,
    )
    assert moved.json()["assignee_ids"] == [str(DEMO_IDS["dave"])] and moved.json()["labels"] == ["bug"]
    actions = await owner_db.fetch(
        "SELECT action FROM audit_events WHERE org_id = $1::uuid AND resource_type = 'task' ORDER BY seq",
        team["org"]["id"],
    )
    assert [a["action"] for a in actions].count("task.updated") == 3


async def test_soft_delete_and_restore(client: httpx.AsyncClient, tokens: Tokens, team: dict[str, Any]) -> None:
    carol, dave = await tokens.headers("carol"), await tokens.headers("dave")
    task = (await client.post(team["tasks"], json={"title": "Doomed"}, headers=carol)).json()
    url = f"{team['tasks']}/{task['id']}"
    assert (await client.delete(url, headers=dave)).status_code == 403
    assert (await client.delete(url, headers=carol)).status_code == 204
    assert (await client.get(url, headers=carol)).status_code == 404
    assert (await client.get(team["tasks"], headers=carol)).json()["total"] == 0
    assert (await client.post(f"{url}/comments", json={"body": "hi"}, headers=carol)).status_code == 404
    restored = await client.post(f"{url}/restore", headers=carol)
    assert restored.status_code == 200 and restored.json()["deleted_at"] is None
    assert (await client.get(team["tasks"], headers=carol)).json()["total"] == 1
    assert (await client.post(f"{url}/restore", headers=carol)).status_code == 404


async def test_my_tasks_across_projects(client: httpx.AsyncClient, tokens: Tokens, team: dict[str, Any]) -> None:
    alice, carol, dave = [await tokens.headers(n) for n in ("alice", "carol", "dave")]
    for title, due in [("Late", "2026-01-01"), ("Soon", "2026-12-24"), ("Later", None)]:
        made = await client.post(
            team["tasks"],
            json={"title": title, "due_date": due, "assignee_ids": [str(DEMO_IDS["dave"])]},
            headers=carol,
        )
        assert made.status_code == 201
    await client.post(team["tasks"], json={"title": "Someone else's"}, headers=carol)
    # A project dave has no role in: he cannot be assigned there, and its tasks never show up for him.
    hidden = (await client.post(f"{team['base']}/projects", json={"name": "Hidden"}, headers=alice)).json()
    hidden_tasks = f"{team['base']}/projects/{hidden['id']}/tasks"
    refused = await client.post(
        hidden_tasks, json={"title": "Secret", "assignee_ids": [str(DEMO_IDS["dave"])]}, headers=alice
    )
    assert refused.status_code == 422
    assert (await client.post(hidden_tasks, json={"title": "Secret"}, headers=alice)).status_code == 201
    assert (await client.get(f"{team['base']}/tasks", params={"q": "secret"}, headers=dave)).json()["total"] == 0
    mine = (await client.get(f"{team['base']}/tasks", params={"assignee": "me"}, headers=dave)).json()
    assert [t["title"] for t in mine["items"]] == ["Late", "Soon", "Later"]
    due = await client.get(f"{team['base']}/tasks", params={"assignee": "me", "due_before": "2026-06-01"}, headers=dave)
    assert [t["title"] for t in due.json()["items"]] == ["Late"]
    everything = (await client.get(f"{team['base']}/tasks", params={"assignee": "me"}, headers=alice)).json()
    assert everything["total"] == 0
    admin_view = (await client.get(f"{team['base']}/tasks", params={"q": "secret"}, headers=alice)).json()
    assert [t["title"] for t in admin_view["items"]] == ["Secret"]
    bad = await client.get(f"{team['base']}/tasks", params={"sort": "nonsense"}, headers=dave)
    assert bad.status_code == 422 and bad.json()["field"] == "sort"


async def test_comments(client: httpx.AsyncClient, tokens: Tokens, team: dict[str, Any]) -> None:
    carol, dave, erin = await tokens.headers("carol"), await tokens.headers("dave"), await tokens.headers("erin")
    task = (await client.post(team["tasks"], json={"title": "Talk"}, headers=carol)).json()
    url = f"{team['tasks']}/{task['id']}/comments"
    ids = []
    for i, who in enumerate([dave, carol, dave]):
        made = await client.post(url, json={"body": f"**{i}**"}, headers=who)
        assert made.status_code == 201, made.text
        ids.append(made.json()["id"])
    assert (await client.post(url, json={"body": "auditors only read"}, headers=erin)).status_code == 403
    page = (await client.get(url, params={"limit": 2}, headers=erin)).json()
    assert (page["total"], [c["body"] for c in page["items"]]) == (3, ["**0**", "**1**"])
    edited = await client.patch(f"{url}/{ids[0]}", json={"body": "edited"}, headers=dave)
    assert edited.status_code == 200 and edited.json()["edited_at"]
    assert (await client.patch(f"{url}/{ids[1]}", json={"body": "not mine"}, headers=dave)).status_code == 403
    assert (await client.delete(f"{url}/{ids[1]}", headers=dave)).status_code == 403
    assert (await client.delete(f"{url}/{ids[2]}", headers=dave)).status_code == 204
    assert (await client.delete(f"{url}/{ids[0]}", headers=carol)).status_code == 204  # a lead deletes any
    assert [c["id"] for c in (await client.get(url, headers=dave)).json()["items"]] == [ids[1]]
    empty = await client.post(url, json={"body": "   "}, headers=dave)
    assert empty.status_code == 422


async def test_other_tenants_and_non_members_do_not_reach_tasks(
    client: httpx.AsyncClient, tokens: Tokens, team: dict[str, Any]
) -> None:
    carol, grace = await tokens.headers("carol"), await tokens.headers("grace")
    task = (await client.post(team["tasks"], json={"title": "Private"}, headers=carol)).json()
    assert (await client.get(f"{team['tasks']}/{task['id']}", headers=grace)).status_code == 404
    assert (await client.get(f"{team['base']}/tasks", headers=grace)).status_code == 404


async def test_a_stale_if_match_is_refused_so_a_board_move_never_overwrites_a_newer_change(
    client: httpx.AsyncClient, tokens: Tokens, team: dict[str, Any]
) -> None:
    carol = await tokens.headers("carol")
    task = (
        await client.post(
            team["tasks"],
            json={"title": "Moved", "assignee_ids": [str(DEMO_IDS["dave"]), str(DEMO_IDS["bob"])]},
            headers=carol,
        )
    ).json()
    url = f"{team['tasks']}/{task['id']}"
    read = await client.get(url, headers=carol)
    etag = read.headers["etag"]
    assert (await client.get(url, headers=carol)).headers["etag"] == etag  # stable while unchanged
    first = await client.patch(url, json={"status": "in_progress"}, headers={**carol, "If-Match": etag})
    assert first.status_code == 200, first.text
    assert first.headers["etag"] != etag
    stale = await client.patch(url, json={"status": "done"}, headers={**carol, "If-Match": etag})
    assert stale.status_code == 412, stale.text
    assert stale.headers["content-type"] == "application/problem+json"
    assert stale.headers["etag"] == first.headers["etag"]
    assert (await client.get(url, headers=carol)).json()["status"] == "in_progress"
    fresh = await client.patch(url, json={"status": "done"}, headers={**carol, "If-Match": first.headers["etag"]})
    assert fresh.status_code == 200, fresh.text
