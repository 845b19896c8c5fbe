"""An export's figures are rounded by the organization's rule, the rule in force is in its signed
manifest, and the manifest still verifies."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tests.exports.conftest import Worker
from tests.exports.test_exports import _request, _verify, _wait
from tests.tracking.conftest import Team


async def test_the_export_rounds_like_the_reports_and_its_manifest_names_the_rule(
    org_team: Team, start_worker: Worker, tmp_path: Path
) -> None:
    made = await org_team.log("dave", "2026-03-02T08:00:00Z", "2026-03-02T08:07:00Z")  # a Monday, 7 min
    assert made.status_code == 201, made.text
    rule = {"mode": "up", "minutes": 15, "weekdays": [1, 2, 3, 4, 5]}
    changed = await org_team.call("alice", "PATCH", "/time-settings", json={"rounding": rule})
    assert changed.status_code == 200, changed.text

    start_worker()
    export_id = await _request(org_team, "erin")
    assert (await _wait(org_team, "erin", export_id, {"done", "failed"}))["status"] == "done"
    body = (await org_team.call("erin", "GET", f"/exports/{export_id}/download")).content
    (row,) = list(csv.DictReader(io.StringIO(body.decode())))
    assert row["duration_seconds"] == "420"  # as stored
    assert (row["corrected_seconds"], row["hours"], row["amount"]) == ("900", "0.25", "25.00")  # as rounded

    manifest = (await org_team.call("erin", "GET", f"/exports/{export_id}/manifest")).json()
    assert manifest["rounding"] == rule
    key = (await org_team.call("dave", "GET", "/exports/signing-key")).json()
    good = _verify(tmp_path, body, manifest, key["public_key_pem"])
    assert good.returncode == 0, good.stdout + good.stderr
    forged = _verify(tmp_path, body, {**manifest, "rounding": {**rule, "mode": "none"}}, key["public_key_pem"])
    assert forged.returncode == 1  # the rule is signed
