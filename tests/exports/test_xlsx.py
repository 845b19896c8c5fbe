"""XLSX exports: the same rows and totals as the CSV export of the same request, typed cells, the
manifest's facts on a second sheet, a signature that verifies like the others; a bad format is a 422."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import openpyxl

from tests.exports.conftest import Worker
from tests.exports.test_exports import _request, _verify, _wait
from tests.tracking.conftest import Team

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _done(team: Team, who: str, **body: object) -> tuple[bytes, dict[str, object], str]:
    export_id = await _request(team, who, **body)
    state = await _wait(team, who, export_id, {"done", "failed"})
    assert state["status"] == "done", state
    got = await team.call(who, "GET", f"/exports/{export_id}/download")
    assert got.status_code == 200, got.text
    manifest = (await team.call(who, "GET", f"/exports/{export_id}/manifest")).json()
    return got.content, manifest, got.headers["content-type"] + "|" + got.headers["content-disposition"]


async def test_xlsx_has_the_csv_rows_and_totals_and_verifies(
    org_team: Team, start_worker: Worker, tmp_path: Path
) -> None:
    for start, end in [
        ("2026-03-02T08:00:00Z", "2026-03-02T09:30:00Z"),
        ("2026-03-03T08:00:00Z", "2026-03-03T08:45:00Z"),
        ("2026-03-04T10:00:00Z", "2026-03-04T12:15:00Z"),
    ]:
        made = await org_team.log("dave", start, end)
        assert made.status_code == 201, made.text
    start_worker()
    csv_body, csv_manifest, _ = await _done(org_team, "erin", kind="timesheet", format="csv")
    body, manifest, headers = await _done(org_team, "erin", kind="timesheet", format="xlsx")
    assert headers.startswith(XLSX)
    assert 'filename="worktime-timesheet-2026-03-01-2026-03-31.xlsx"' in headers
    assert manifest["format"] == "xlsx" and manifest["row_count"] == csv_manifest["row_count"] == 3
    assert manifest["data_sha256"] == csv_manifest["data_sha256"]  # made from the same rows

    expected = list(csv.reader(io.StringIO(csv_body.decode())))
    path = tmp_path / "export.xlsx"
    path.write_bytes(body)
    book = openpyxl.load_workbook(path, data_only=True)
    rows = book["Rows"]
    assert rows.freeze_panes == "A2"
    got = [list(row) for row in rows.iter_rows(values_only=True)]
    header, *data, totals = got
    assert header == expected[0]
    assert len(data) == len(expected) - 1
    columns = expected[0]
    for want, have in zip(expected[1:], data, strict=True):
        for name, text_value, cell in zip(columns, want, have, strict=True):
            if name == "date":
                assert isinstance(cell, datetime) and cell.date().isoformat() == text_value
            elif name in ("seconds", "billable_seconds"):
                assert cell == int(text_value)
            elif name == "hours":
                assert isinstance(cell, float) and Decimal(str(cell)) == Decimal(text_value)
            else:
                assert (cell or "") == text_value
    assert totals[0] == "Total"
    for name in ("seconds", "billable_seconds", "hours"):
        at = columns.index(name)
        assert Decimal(str(totals[at])) == sum(Decimal(row[at]) for row in expected[1:]), name
    assert totals[columns.index("seconds")] == 90 * 60 + 45 * 60 + 135 * 60
    assert rows.cell(row=2, column=columns.index("hours") + 1).number_format == "0.00"

    facts = {label: value for label, value in book["Export"].iter_rows(min_row=2, values_only=True)}
    assert (facts["period_from"], facts["period_to"]) == ("2026-03-01", "2026-03-31")
    assert facts["rounding"] == json.dumps(manifest["rounding"], sort_keys=True, separators=(",", ":"))
    assert facts["row_count"] == "3" and facts["data_sha256"] == manifest["data_sha256"]

    key = (await org_team.call("dave", "GET", "/exports/signing-key")).json()
    good = _verify(tmp_path, body, manifest, key["public_key_pem"])
    assert good.returncode == 0, good.stdout + good.stderr
    tampered = _verify(tmp_path, body[:-1] + bytes([body[-1] ^ 1]), manifest, key["public_key_pem"])
    assert tampered.returncode == 1


async def test_an_unknown_format_is_a_clear_422(org_team: Team) -> None:
    body = {"kind": "timesheet", "format": "ods", "from": "2026-03-01", "to": "2026-03-31"}
    made = await org_team.call("dave", "POST", "/exports", json=body)
    assert made.status_code == 422, made.text
    assert made.headers["content-type"].startswith("application/problem+json")
    assert "format" in made.text and "xlsx" in made.text
    audit = await org_team.call("alice", "POST", "/exports", json={**body, "kind": "audit", "format": "xlsx"})
    assert audit.status_code == 422 and "CSV only" in audit.text
