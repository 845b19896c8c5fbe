"""Reports and exports under ``make bench``, in process (httpx ASGITransport, no wrk), on the time tracking
section's 1,000,000 entries (50 people, one organization): each figure next to its bare baseline.

- an org-month time report (group_by project, day) vs the bare SQL aggregate of the same month (<= 1.5x);
- a CSV export's rows/s (the whole job: count, COPY, hash, fsync, sign) vs a bare COPY of the same
  rows to a file (>= 50 %);
- PDF rendering rows/s vs a minimal ReportLab canvas loop drawing the same cells (>= 80 %), and the
  renderer's peak RSS at BENCH_EXPORT_ROWS rows (default 100,000; < 200 MB), each in a child process
  (rows per CPU second, wall rate alongside; peak RSS from VmHWM);
- XLSX rendering of the same rows vs a bare xlsxwriter constant-memory loop writing every cell as text
  (printed, no target), and its peak RSS (< 200 MB).

``python -m backend bench --section reports`` (``make bench BENCH_SECTION=reports``) runs only this part.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI

from backend.bench.tracking import EPOCH, _timed
from backend.exports.tasks import run_export
from backend.settings import get_settings

REPORT_VS_SQL = 1.5
CSV_VS_COPY = 0.5
PDF_VS_CANVAS = 0.8
PDF_RSS_MB = 200
EXPORT_ROWS = int(os.environ.get("BENCH_EXPORT_ROWS", "100000"))
ENTRIES_PER_DAY = 50 * 16  # 50 people, one entry every 90 minutes each

# Both children time themselves in CPU seconds as well as wall seconds (each is one single-threaded loop,
# so on an idle machine they agree; on a shared one CPU time is the fair comparison), and read their peak
# RSS from /proc/self/status VmHWM: ru_maxrss would report the bench process's own peak, which a child
# inherits across fork and exec on Linux (that is how an earlier run printed 543 MB for a 62 MB render).
_MEASURE = """
import time
def _peak_mb():
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

_PDF_CHILD = (
    _MEASURE
    + """
import sys
from pathlib import Path
from backend.exports import pdf
header = pdf.Header(org_name="Bench time", kind="detailed", period="bench", filters={}, lock={},
                    generated_at="now", data_sha256="0" * 64, export_id="bench")
wall, cpu = time.perf_counter(), time.process_time()
rows = pdf.render(Path(sys.argv[1]), Path(sys.argv[2]), header)
print(rows, time.perf_counter() - wall, time.process_time() - cpu, _peak_mb())
"""
)

_CANVAS_CHILD = (
    _MEASURE
    + """
import csv, sys
from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfgen import canvas
wall, cpu = time.perf_counter(), time.process_time()
pdf = canvas.Canvas(sys.argv[2], pagesize=landscape(A4), pageCompression=1)
y, n = 520, 0
with open(sys.argv[1], newline="") as handle:
    for row in csv.DictReader(handle):
        x = 36
        for key in ("date", "start", "person", "project", "task", "description", "billable", "hours", "amount",
                    "currency"):
            pdf.drawString(x, y, (row[key] or "")[:30])
            x += 75
        y -= 13
        n += 1
        if y < 40:
            pdf.showPage()
            y = 520
pdf.showPage()
pdf.save()
print(n, time.perf_counter() - wall, time.process_time() - cpu, _peak_mb())
"""
)

_XLSX_CHILD = (
    _MEASURE
    + """
import sys
from datetime import datetime
from pathlib import Path
from backend.exports import xlsx
wall, cpu = time.perf_counter(), time.process_time()
rows = xlsx.render(Path(sys.argv[1]), Path(sys.argv[2]), xlsx.facts({"export_id": "bench"}), datetime(2024, 3, 1))
print(rows, time.perf_counter() - wall, time.process_time() - cpu, _peak_mb())
"""
)

# The baseline: xlsxwriter in constant-memory mode writing every CSV cell as text, nothing else.
_XLSX_LOOP_CHILD = (
    _MEASURE
    + """
import csv, sys
import xlsxwriter
wall, cpu = time.perf_counter(), time.process_time()
book = xlsxwriter.Workbook(sys.argv[2], {"constant_memory": True})
sheet = book.add_worksheet()
n = 0
with open(sys.argv[1], newline="") as handle:
    for n, row in enumerate(csv.reader(handle)):
        sheet.write_row(n, 0, row)
book.close()
print(n, time.perf_counter() - wall, time.process_time() - cpu, _peak_mb())
"""
)


def _child(code: str, *args: str) -> list[float]:
    result = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, timeout=1800
    )
    return [float(part) for part in result.stdout.split()]


async def run(app: FastAPI, headers: dict[str, str], settings_dsn: str, org_id: uuid.UUID) -> bool:
    import asyncpg

    base = f"/api/v1/orgs/{org_id}"
    month = date(2024, 3, 1)
    start = EPOCH.replace(year=2024, month=3, day=1)
    end = EPOCH.replace(year=2024, month=4, day=1)
    lines: list[tuple[str, str]] = []
    results: list[tuple[str, bool]] = []
    connection = await asyncpg.connect(settings_dsn.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as http:
            params = {"from": "2024-03-01", "to": "2024-03-31", "group_by": ["project", "day"]}

            async def report(_: int) -> None:
                (await http.get(f"{base}/reports/time", params=params, headers=headers)).raise_for_status()

            report_p50, report_p99 = await _timed(30, report)

            async def bare(_: int) -> None:
                async with connection.transaction():
                    await connection.execute("SELECT set_config('app.org_id', $1, true)", str(org_id))
                    await connection.fetch(
                        "SELECT project_id, date_trunc('day', start_at AT TIME ZONE 'UTC') AS day, currency,"
                        " sum(duration_seconds), sum(duration_seconds) FILTER (WHERE billable), count(*),"
                        " sum(rate * duration_seconds / 3600.0) FROM time_entries"
                        " WHERE org_id = $1 AND end_at IS NOT NULL AND start_at >= $2 AND start_at < $3"
                        " GROUP BY 1, 2, 3",
                        org_id,
                        start,
                        end,
                    )

            bare_p50, bare_p99 = await _timed(30, bare)
            ratio = report_p50 / bare_p50
            lines.append(
                ("GET reports/time (org month, project x day)", f"p50 {report_p50:.1f} ms, p99 {report_p99:.1f}")
            )
            lines.append(("bare SQL aggregate, same month", f"p50 {bare_p50:.1f} ms, p99 {bare_p99:.1f}"))
            results.append(
                (f"org-month report p50 = {ratio:.2f}x bare SQL (target <= {REPORT_VS_SQL}x)", ratio <= REPORT_VS_SQL)
            )

            # CSV export of EXPORT_ROWS rows: the whole job, in this process, three times alternating with
            # the bare COPY (fresh export each time); the medians are compared.
            days = max(1, EXPORT_ROWS // ENTRIES_PER_DAY)
            last = month + timedelta(days=days - 1)
            until = EPOCH.replace(year=last.year, month=last.month, day=last.day) + timedelta(days=1)
            job_runs: list[float] = []
            copy_runs: list[float] = []
            for _ in range(3):
                made = await http.post(
                    f"{base}/exports",
                    json={"kind": "detailed", "format": "csv", "from": str(month), "to": str(last)},
                    headers=headers,
                )
                made.raise_for_status()
                export_id = made.json()["id"]
                started = time.perf_counter()
                await run_export.fn(str(org_id), export_id)
                job_runs.append(time.perf_counter() - started)
                state = (await http.get(f"{base}/exports/{export_id}", headers=headers)).json()
                rows = int(state["manifest"]["row_count"])
                with tempfile.TemporaryDirectory(prefix="worktime-bench-export-") as folder:
                    bare_file = Path(folder) / "bare.csv"
                    started = time.perf_counter()
                    async with connection.transaction():
                        await connection.execute("SELECT set_config('app.org_id', $1, true)", str(org_id))
                        await connection.copy_from_query(
                            "SELECT * FROM time_entries WHERE org_id = $1 AND start_at >= $2 AND start_at < $3"
                            " ORDER BY start_at, id",
                            org_id,
                            start,
                            until,
                            output=str(bare_file),
                            format="csv",
                            header=True,
                        )
                    copy_runs.append(time.perf_counter() - started)
                    bare_rows = sum(1 for _ in bare_file.open()) - 1
            export_seconds, copy_seconds = statistics.median(job_runs), statistics.median(copy_runs)
            export_rate, copy_rate = rows / export_seconds, bare_rows / copy_seconds
            lines.append((f"CSV export job ({rows:,} rows)", f"{export_rate:,.0f} rows/s"))
            lines.append((f"bare COPY to a file ({bare_rows:,} rows)", f"{copy_rate:,.0f} rows/s"))
            share = export_rate / copy_rate
            results.append(
                (f"CSV export = {share:.0%} of bare COPY rows/s (target >= {CSV_VS_COPY:.0%})", share >= CSV_VS_COPY)
            )

            with tempfile.TemporaryDirectory(prefix="worktime-bench-pdf-") as folder:
                source = Path(get_settings().export_dir) / str(org_id) / f"{export_id}.csv"
                pdf_rows, pdf_wall, pdf_cpu, rss = _child(_PDF_CHILD, str(source), str(Path(folder) / "r.pdf"))
                loop_rows, loop_wall, loop_cpu, loop_rss = _child(
                    _CANVAS_CHILD, str(source), str(Path(folder) / "m.pdf")
                )
                pdf_rate, loop_rate = pdf_rows / pdf_cpu, loop_rows / loop_cpu
                lines.append(
                    (
                        f"PDF render ({int(pdf_rows):,} rows)",
                        f"{pdf_rate:,.0f} rows/CPU-s ({pdf_rows / pdf_wall:,.0f}/s wall), peak RSS {rss:.0f} MB",
                    )
                )
                lines.append(
                    (
                        "minimal canvas loop, same rows (baseline)",
                        f"{loop_rate:,.0f} rows/CPU-s ({loop_rows / loop_wall:,.0f}/s wall),"
                        f" peak RSS {loop_rss:.0f} MB",
                    )
                )
                share = pdf_rate / loop_rate
                results.append(
                    (
                        f"PDF = {share:.0%} of the minimal canvas loop's rows/s (target >= {PDF_VS_CANVAS:.0%})",
                        share >= PDF_VS_CANVAS,
                    )
                )
                results.append(
                    (
                        f"PDF peak RSS {rss:.0f} MB at {int(pdf_rows):,} rows (target < {PDF_RSS_MB} MB)",
                        rss < PDF_RSS_MB,
                    )
                )
                rendered = _child(_XLSX_CHILD, str(source), str(Path(folder) / "r.xlsx"))
                xlsx_rows, xlsx_wall, xlsx_cpu, xlsx_rss = rendered
                bare_xlsx = _child(_XLSX_LOOP_CHILD, str(source), str(Path(folder) / "m.xlsx"))
                xlsx_rate, bare_xlsx_rate = xlsx_rows / xlsx_cpu, bare_xlsx[0] / bare_xlsx[2]
                lines.append(
                    (
                        f"XLSX render ({int(xlsx_rows):,} rows)",
                        f"{xlsx_rate:,.0f} rows/CPU-s ({xlsx_rows / xlsx_wall:,.0f}/s wall),"
                        f" peak RSS {xlsx_rss:.0f} MB",
                    )
                )
                lines.append(
                    (
                        "bare xlsxwriter loop, same rows (baseline)",
                        f"{bare_xlsx_rate:,.0f} rows/CPU-s ({xlsx_rate / bare_xlsx_rate:.0%}),"
                        f" peak RSS {bare_xlsx[3]:.0f} MB",
                    )
                )
                results.append(
                    (
                        f"XLSX peak RSS {xlsx_rss:.0f} MB at {int(xlsx_rows):,} rows (target < {PDF_RSS_MB} MB)",
                        xlsx_rss < PDF_RSS_MB,
                    )
                )
    finally:
        await connection.close()
    print("\nreports and exports, in process (the time tracking section's entries):")
    for label, value in lines:
        print(f"  {label:<48}{value}")
    for label, ok in results:
        print(f"  {'PASS' if ok else 'FAIL'}  {label}")
    return all(ok for _, ok in results)
