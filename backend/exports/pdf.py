"""PDF exports with ReportLab's canvas: a summary page (header, totals, a bar chart), then the detailed
table with its column headers repeated on every page and "page x of y" in every footer.

Which hash is printed: a file cannot contain its own SHA-256, so the last page prints the SHA-256 of the
**CSV rows the PDF was rendered from** (``data_sha256`` in the manifest: the exact bytes a CSV export of
the same request would hold). The PDF file's own SHA-256 is in the signed manifest next to it.

Rendering streams the rows from a CSV file twice (totals, then the table), one page of rows at a time.
The page count is known after the first pass (fixed row height), so "page x of y" needs no deferred form.
ReportLab holds every page until ``save()``; each is compressed as soon as it is finished, so what grows
with the rows is the compressed PDF itself (~70 bytes a row), not the page operators (~480 bytes a row).
Measured at 100,000 rows (docs/exports.md): ~60 MB peak RSS; ~14x the previous renderer's rows/s and ~6x
a loop of one ``drawString`` per cell.
"""

from __future__ import annotations

import csv
import math
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from reportlab import rl_config
from reportlab.graphics import renderPDF
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfbase import pdfdoc, pdfmetrics
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


def _rows(source: Path) -> Iterator[list[str]]:
    """The CSV's data rows as lists (the header line skipped): cheaper than a dict per row."""
    with source.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        yield from reader


def _columns(source: Path) -> list[str]:
    with source.open(newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle), [])


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


# The table's cells go straight into the page stream as PDF text operators (one BT…ET block per page)
# instead of one canvas.drawString per cell: drawString builds a text object, formats floats in pure
# Python and re-encodes every string, the bulk of the time once cells were fitted. Printable ASCII (nearly
# every cell) is measured with Helvetica's width table and escaped here; anything else goes through
# canvas.drawString as before, so the encoding rules for other characters stay ReportLab's.
_WIDTHS = [pdfmetrics.getFont(FONT).widths[code] * SIZE / 1000 for code in range(128)]
_ELLIPSIS = stringWidth("…", FONT, SIZE)
_ELLIPSIS_CODE = "\\205"  # "…" in WinAnsiEncoding, Helvetica's encoding


def _literal(text: str, room: float) -> tuple[str, float] | None:
    """``(PDF string operand, width)`` for printable ASCII, cut with "…" to fit ``room``; else None."""
    if not (text.isascii() and text.isprintable()):
        return None
    raw = text.encode("ascii")
    widths = _WIDTHS
    width = sum(map(widths.__getitem__, raw))
    suffix = ""
    if width > room:
        limit, used, cut = room - _ELLIPSIS, 0.0, 0
        while used + widths[raw[cut]] <= limit:  # ends inside raw: the whole text is wider than limit
            used += widths[raw[cut]]
            cut += 1
        text, width, suffix = text[:cut], used + _ELLIPSIS, _ELLIPSIS_CODE
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return f"({escaped}{suffix}) Tj", width


def _compress_last_page(pdf: canvas.Canvas) -> None:
    """Flate-compress the page just finished, now rather than at ``save()``.

    ReportLab keeps every page's operators as an uncompressed string until ``save()`` (~480 bytes per
    table row: 48 MB at 100,000 rows, growing with the export). Compressed pages take ~1/7 of that. A
    stream that already names its Filter is written as is by ``PDFStream.format``. This reaches into
    ReportLab's document model, so it steps aside (leaving the page to ``save()``) if that changes.
    """
    pages = getattr(getattr(pdf._doc, "Pages", None), "pages", None)
    page = pages[-1] if pages else None
    stream = getattr(page, "stream", None)
    if page is None or not isinstance(stream, str) or getattr(page, "Contents", None) is not None:
        return
    contents = pdfdoc.PDFStream(content=zlib.compress(stream.encode("utf-8")), filters=[])
    contents.dictionary["Filter"] = pdfdoc.PDFArray([pdfdoc.PDFName("FlateDecode")])
    contents.__Comment__ = "page stream"
    page.Contents = contents
    page.stream = None


def render(source: Path, target: Path, header: Header, progress: Callable[[int], None] | None = None) -> int:
    """Write the PDF for the CSV rows in ``source``; returns the number of rows."""
    # Page streams Flate-compressed without the ASCII85 layer: A85 runs in pure Python (without the
    # optional rl_accel extension) and only makes the file 25 % larger for 7-bit transports we do not use.
    rl_config.useA85 = 0
    columns = LAYOUT[header.kind]
    names = _columns(source)
    index = {name: i for i, name in enumerate(names)}
    # Pass 1: totals and the chart's series (hours per day, or per project for a summary).
    count = 0
    hours = Decimal(0)
    money: dict[str, Decimal] = defaultdict(Decimal)
    series: dict[str, Decimal] = defaultdict(Decimal)
    at_hours, at_amount, at_currency = index.get("hours"), index.get("amount"), index.get("currency")
    at_series = index.get("project" if header.kind == "summary" else "date")
    for row in _rows(source):
        count += 1
        spent = _decimal(row[at_hours]) if at_hours is not None else Decimal(0)
        hours += spent
        if at_amount is not None and at_currency is not None and row[at_amount] and row[at_currency]:
            money[row[at_currency]] += _decimal(row[at_amount])
        series[(row[at_series] if at_series is not None else "") or "—"] += spent
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
    def table_header() -> None:
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

    first_y = PAGE[1] - MARGIN - 22 - ROW
    slots = [first_y - slot * ROW for slot in range(per_page)]
    # Per column: its place in the CSV row, where it starts, how much room it has, whether right-aligned,
    # and the text matrices of its cells on every row of a page (left-aligned cells), built once.
    cells: list[tuple[int | None, str, float, float, bool, list[str]]] = []
    x: float = MARGIN
    for key, _, width, right in columns:
        cells.append((index.get(key), key, x, width, right, [f"1 0 0 1 {x:.2f} {y:.2f} Tm " for y in slots]))
        x += width
    font_name = pdf._doc.getInternalFontName(FONT)  # the page resource name ("/F1") for the Tf operator
    opening = f"BT {font_name} {SIZE} Tf"
    # Operators per distinct cell value, per column: names, projects, dates and amounts repeat a lot.
    # Bounded, so memory stays flat however many distinct values there are.
    cache: list[dict[str, tuple[str, float] | None]] = [{} for _ in columns]

    def cell_text(key: str, value: str) -> str:
        if key == "start":
            return value[11:16]
        if key == "billable":
            return {"t": "yes", "f": "no"}.get(value, value)
        if value.isprintable():
            return value
        return " ".join(value.split())  # line breaks and tabs of a multi-line description

    def draw_page(page: int, batch: list[list[str]]) -> None:
        table_header()
        code = [opening]
        others: list[tuple[float, float, str, bool, float]] = []  # cells that need ReportLab's own encoding
        for slot, row in enumerate(batch):
            for column, (at, key, left, width, right, matrices) in enumerate(cells):
                raw = row[at] if at is not None else ""
                if not raw:
                    continue
                known = cache[column]
                if raw in known:
                    made = known[raw]
                else:
                    made = _literal(cell_text(key, raw), width - 6)
                    if len(known) >= 4096:
                        known.clear()
                    known[raw] = made
                if made is None:
                    others.append((left + width - 4 if right else left, slots[slot], cell_text(key, raw), right, width))
                elif right:
                    code.append(f"1 0 0 1 {left + width - 4 - made[1]:.2f} {slots[slot]:.2f} Tm {made[0]}")
                else:
                    code.append(matrices[slot] + made[0])
        code.append("ET")
        pdf.addLiteral("\n".join(code))
        pdf.setFont(FONT, SIZE)
        for x, y, text, right, width in others:
            if right:
                pdf.drawRightString(x, y, _fit(text, width - 6))
            else:
                pdf.drawString(x, y, _fit(text, width - 6))
        if page == pages:
            if not batch:
                pdf.drawString(MARGIN, slots[0], "No rows in this period.")
            pdf.setFont(FONT, 7)
            pdf.drawString(
                MARGIN,
                MARGIN - 6,
                f"SHA-256 of the CSV data this PDF was made from (manifest data_sha256): {header.data_sha256}"
                " — the PDF file's own SHA-256 is in the signed manifest.",
            )
        footer(page)
        pdf.showPage()
        _compress_last_page(pdf)

    page, done = 2, 0
    batch: list[list[str]] = []
    for row in _rows(source):
        batch.append(row)
        if len(batch) == per_page:
            draw_page(page, batch)
            done += len(batch)
            page, batch = page + 1, []
            if progress is not None:
                progress(done)
    if batch or page == 2:
        draw_page(page, batch)
    pdf.save()
    return count
