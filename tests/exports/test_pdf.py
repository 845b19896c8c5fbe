"""The PDF renderer on its own (no worker): what each page shows, read back with poppler's pdftotext.

The table's cells are written as PDF text operators by hand (backend/exports/pdf.py), so these tests read
the rendered text back: headers on every page, "page x of y", the data hash on the last page, and the
characters that need escaping or ReportLab's own encoding."""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path

import pytest

from backend.exports import pdf
from backend.reports.service import EXPORT_COLUMNS

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils (pdftotext)")

PER_PAGE = int((pdf.PAGE[1] - 2 * pdf.MARGIN - 60) // pdf.ROW)
HEADER = pdf.Header(
    org_name="Acme (Test) GmbH",
    kind="detailed",
    period="2026-03-01 to 2026-03-31 (Europe/Berlin)",
    filters={"projects": ["p1"], "billable": True, "tags": []},
    lock={"locked_until": "2026-03-31", "fully_locked": True, "timesheets": {"approved": 3}},
    generated_at="2026-04-01T08:00:00+00:00",
    data_sha256="ab" * 32,
    export_id="0f0f0f0f-0000-4000-8000-000000000001",
)


def _csv(path: Path, rows: int, special: dict[int, dict[str, str]] | None = None) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=EXPORT_COLUMNS["detailed"])
        writer.writeheader()
        for n in range(rows):
            row = dict.fromkeys(EXPORT_COLUMNS["detailed"], "")
            row.update(
                date=f"2026-03-{1 + n % 28:02d}",
                start=f"2026-03-{1 + n % 28:02d}T09:30:00+01:00",
                person=f"Person {n % 5}",
                project="Website",
                task="Build",
                description=f"row {n}",
                billable="t" if n % 2 else "f",
                hours="1.50",
                amount="150.00",
                currency="EUR",
            )
            row.update((special or {}).get(n, {}))
            writer.writerow(row)
    return path


def _pages(path: Path) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True)
    return text.stdout.split("\f")[:-1]


def test_every_page_has_its_headers_and_page_x_of_y(tmp_path: Path) -> None:
    rows = 2 * PER_PAGE + 5
    target = tmp_path / "out.pdf"
    assert pdf.render(_csv(tmp_path / "in.csv", rows), target, HEADER) == rows
    pages = _pages(target)
    assert len(pages) == 4  # the summary, then three pages of rows
    first = " ".join(pages[0].split())  # pdftotext's layout spacing is not ours
    for expected in (
        "Acme (Test) GmbH — detailed time report",
        "Period: 2026-03-01 to 2026-03-31 (Europe/Berlin)",
        "Filters: projects=['p1'], billable=True",
        "locked until 2026-03-31 (the whole period is locked)",
        "Timesheets in the period: approved 3",
        f"Rows: {rows} Hours: {1.5 * rows:.2f} Amount: {150 * rows:.2f} EUR",
        "Hours per day",
    ):
        assert expected in first, expected
    for number, page in enumerate(pages, start=1):
        assert f"page {number} of 4" in page
    for page in pages[1:]:
        assert "Date" in page and "Person" in page and "Description" in page and "Amount" in page
    seen = [line for page in pages[1:] for line in page.splitlines() if " row " in f" {line} "]
    assert len(seen) == rows
    assert "09:30" in pages[1] and "yes" in pages[1] and "no" in pages[1]
    assert HEADER.data_sha256 in pages[-1].replace("\n", "")
    assert HEADER.data_sha256 not in "".join(pages[:-1])


def test_cells_that_need_escaping_cutting_or_reportlabs_encoding(tmp_path: Path) -> None:
    special = {
        0: {"person": "Jürgen Müller", "description": "a (bracketed) back\\slash"},
        1: {"description": "first line\nsecond\tline"},
        2: {"description": "x" * 400, "project": "Ünïcödé \u2013 \u201cquoted\u201d"},
        3: {"amount": "", "currency": ""},
    }
    target = tmp_path / "out.pdf"
    pdf.render(_csv(tmp_path / "in.csv", 4, special), target, HEADER)
    table = _pages(target)[1]
    assert "Jürgen Müller" in table
    assert "a (bracketed) back\\slash" in table
    assert "first line second line" in table
    assert "Ünïcödé \u2013 \u201cquoted\u201d" in table
    cut = next(line for line in table.splitlines() if "xxxx" in line)
    assert "x…" in cut and "x" * 100 not in cut


@pytest.mark.parametrize("rows", [0, PER_PAGE])
def test_no_rows_and_exactly_one_full_page(tmp_path: Path, rows: int) -> None:
    target = tmp_path / "out.pdf"
    pdf.render(_csv(tmp_path / "in.csv", rows), target, HEADER)
    pages = _pages(target)
    assert len(pages) == 2
    assert "page 2 of 2" in pages[1]
    assert HEADER.data_sha256 in pages[1].replace("\n", "")
    assert ("No rows in this period." in pages[1]) == (rows == 0)
