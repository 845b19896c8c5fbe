"""PDF exports with ReportLab's canvas: a summary page (header, totals, a bar chart), then the detailed
table with its column headers repeated on every page and "page x of y" in every footer.

Which hash is printed: a file cannot contain its own SHA-256, so the last page prints the SHA-256 of the
**CSV rows the PDF was rendered from** (``data_sha256`` in the manifest: the exact bytes a CSV export of
the same request would hold). The PDF file's own SHA-256 is in the signed manifest next to it.

Rendering streams the rows from a CSV file twice (totals, then the table): memory stays flat however
many rows there are. The page count is known up front (fixed row height), so no page is held back.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from reportlab.graphics import renderPDF
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas

PAGE = landscape(A4)
MARGIN = 36
ROW = 13
FONT = "Helvetica"
BOLD = "Helvetica-Bold"
SIZE = 8

# kind -> [(CSV column, title, width in points, right-aligned)]
LAYOUT: dict[str, list[tuple[str, str, float, bool]]] = {
    "detailed": [
        ("date", "Date", 58, False),
        ("start", "Start", 40, False),
        ("person", "Person", 110, False),
        ("project", "Project", 120, False),
        ("task", "Task", 100, False),
        ("description", "Description", 200, False),
        ("billable", "Bill.", 28, False),
        ("hours", "Hours", 45, True),
        ("amount", "Amount", 60, True),
        ("currency", "", 28, False),
    ],
    "timesheet": [
        ("date", "Date", 70, False),
        ("week", "Week", 60, False),
        ("person", "Person", 200, False),
        ("approval", "Approval", 90, False),
        ("hours", "Hours", 70, True),
        ("billable_seconds", "Billable s", 80, True),
    ],
    "summary": [
        ("project", "Project", 200, False),
        ("client", "Client", 140, False),
        ("person", "Person", 160, False),
        ("entries", "Entries", 50, True),
        ("hours", "Hours", 60, True),
        ("amount", "Amount", 70, True),
        ("currency", "", 30, False),
    ],
}


@dataclass(frozen=True)
class Header:
    org_name: str
    kind: str
    period: str
    filters: dict[str, Any]
    lock: dict[str, Any]
    generated_at: str
    data_sha256: str
    export_id: str


def _rows(source: Path) -> Iterator[dict[str, str]]:
    with source.open(newline="", encoding="utf-8") as handle:
        yield from csv.DictReader(handle)


def _decimal(value: str | None) -> Decimal:
    try:
        return Decimal(value or 0)
    except InvalidOperation:
        return Decimal(0)


def _fit(text: str, width: float, font: str = FONT, size: float = SIZE) -> str:
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def render(source: Path, target: Path, header: Header, progress: Callable[[int], None] | None = None) -> int:
    """Write the PDF for the CSV rows in ``source``; returns the number of rows."""
    columns = LAYOUT[header.kind]
    # Pass 1: totals and the chart's series (hours per day, or per project for a summary).
    count = 0
    hours = Decimal(0)
    money: dict[str, Decimal] = defaultdict(Decimal)
    series: dict[str, Decimal] = defaultdict(Decimal)
    for row in _rows(source):
        count += 1
        hours += _decimal(row.get("hours"))
        if row.get("amount") and row.get("currency"):
            money[row["currency"]] += _decimal(row["amount"])
        series[row.get("project" if header.kind == "summary" else "date") or "—"] += _decimal(row.get("hours"))
    per_page = int((PAGE[1] - 2 * MARGIN - 60) // ROW)
    pages = 1 + max(1, math.ceil(count / per_page))

    pdf = canvas.Canvas(str(target), pagesize=PAGE, pageCompression=1)
    pdf.setTitle(f"{header.org_name}: {header.kind} time export")
    pdf.setAuthor("worktime")
    pdf.setCreator("worktime exports")

    def footer(page: int) -> None:
        pdf.setFont(FONT, 7)
        pdf.setFillColor(colors.grey)
        pdf.drawString(MARGIN, MARGIN - 18, f"{header.org_name} · {header.kind} export {header.export_id}")
        pdf.drawRightString(PAGE[0] - MARGIN, MARGIN - 18, f"page {page} of {pages}")
        pdf.setFillColor(colors.black)

    # Page 1: header, totals, chart.
    top = PAGE[1] - MARGIN
    pdf.setFont(BOLD, 16)
    pdf.drawString(MARGIN, top - 10, f"{header.org_name} — {header.kind} time report")
    pdf.setFont(FONT, 9)
    active = {k: v for k, v in header.filters.items() if v not in (None, [], "")}
    lock = header.lock
    sheets = ", ".join(f"{k} {v}" for k, v in sorted(lock.get("timesheets", {}).items())) or "none submitted"
    cents = Decimal("0.01")
    amount = ", ".join(f"{v.quantize(cents)} {k}" for k, v in sorted(money.items())) or "—"
    lines = [
        f"Period: {header.period}",
        f"Filters: {', '.join(f'{k}={v}' for k, v in active.items()) or 'none'}",
        f"Period lock: locked until {lock.get('locked_until') or 'never'}"
        f" ({'the whole period is locked' if lock.get('fully_locked') else 'the period is not fully locked'})",
        f"Timesheets in the period: {sheets}",
        f"Generated: {header.generated_at}",
        f"Rows: {count}   Hours: {hours.quantize(cents)}   Amount: {amount}",
    ]
    for i, line in enumerate(lines):
        pdf.drawString(MARGIN, top - 34 - i * 13, line)
    chart_top = top - 34 - len(lines) * 13 - 14
    pdf.setFont(BOLD, 10)
    pdf.drawString(MARGIN, chart_top, "Hours per " + ("project" if header.kind == "summary" else "day"))
    items = sorted(series.items())
    if header.kind == "summary":
        items = sorted(series.items(), key=lambda item: -item[1])[:20]
    if len(items) > 62:  # keep the bars readable: the latest 62 days
        items = items[-62:]
    drawing = Drawing(PAGE[0] - 2 * MARGIN, chart_top - MARGIN - 40)
    chart = VerticalBarChart()
    chart.x, chart.y = 30, 40
    chart.width, chart.height = drawing.width - 50, max(60, drawing.height - 60)
    chart.data = [[float(v) for _, v in items] or [0.0]]
    chart.categoryAxis.categoryNames = [(k[5:] if header.kind != "summary" else k[:14]) for k, _ in items] or [""]
    chart.categoryAxis.labels.angle = 60 if len(items) > 12 else 0
    chart.categoryAxis.labels.boxAnchor = "ne" if len(items) > 12 else "n"
    chart.categoryAxis.labels.fontSize = 6
    chart.valueAxis.valueMin = 0
    chart.valueAxis.labels.fontSize = 7
    chart.bars[0].fillColor = colors.HexColor("#3b6ea5")
    drawing.add(chart)
    renderPDF.draw(drawing, pdf, MARGIN, MARGIN)
    footer(1)
    pdf.showPage()

    # Pages 2…: the table, its header on every page.
    def table_header() -> float:
        y: float = PAGE[1] - MARGIN
        pdf.setFont(BOLD, 11)
        pdf.drawString(MARGIN, y, f"{header.org_name} — {header.kind} rows, {header.period}")
        y -= 22
        pdf.setFont(BOLD, SIZE)
        x: float = MARGIN
        for _, title, width, right in columns:
            if right:
                pdf.drawRightString(x + width - 4, y, title)
            else:
                pdf.drawString(x, y, title)
            x += width
        pdf.line(MARGIN, y - 3, PAGE[0] - MARGIN, y - 3)
        pdf.setFont(FONT, SIZE)
        return float(y - ROW)

    page = 2
    y: float = table_header()
    on_page = 0
    for done, row in enumerate(_rows(source), start=1):
        if on_page == per_page:
            footer(page)
            pdf.showPage()
            page += 1
            y, on_page = table_header(), 0
        x: float = MARGIN
        for key, _, width, right in columns:
            value = row.get(key) or ""
            if key == "start":
                value = value[11:16]
            elif key == "billable":
                value = {"t": "yes", "f": "no"}.get(value, value)
            if right:
                pdf.drawRightString(x + width - 4, y, _fit(value, width - 6))
            else:
                pdf.drawString(x, y, _fit(value, width - 6))
            x += width
        y -= ROW
        on_page += 1
        if progress is not None and done % 500 == 0:
            progress(done)
    if count == 0:
        pdf.drawString(MARGIN, y, "No rows in this period.")
        y -= ROW
    pdf.setFont(FONT, 7)
    pdf.drawString(
        MARGIN,
        MARGIN - 6,
        f"SHA-256 of the CSV data this PDF was made from (manifest data_sha256): {header.data_sha256}"
        " — the PDF file's own SHA-256 is in the signed manifest.",
    )
    footer(page)
    pdf.showPage()
    pdf.save()
    return count
