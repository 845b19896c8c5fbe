"""XLSX rendering: the export's CSV rows (the same COPY the CSV export streams) written to a workbook
with xlsxwriter in constant-memory mode, so each row is flushed to disk as it is written and memory
stays flat however many rows there are.

Sheet "Rows": a frozen header row, typed cells (``date`` as a date, seconds and counts as integers,
hours and amounts as numbers with a number format, everything else as text exactly as in the CSV),
column widths, and a totals row (a ``SUM`` with its value cached, so readers that do not calculate see
it too). Sheet "Export": the manifest's facts (organization, period, zone, filters, lock, rounding,
row count, ``data_sha256``). A file cannot contain its own hash: that is in the signed manifest.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

INTEGERS = {
    "seconds", "billable_seconds", "duration_seconds", "correction_seconds", "corrected_seconds", "entries",
}  # fmt: skip
DECIMALS = {"hours": "0.00", "amount": "#,##0.00", "rate": "#,##0.00"}
# Columns whose sum means something (a rate does not add up; amounts only in one currency).
SUMMED = INTEGERS | {"hours", "amount"}
DATES = {"date"}
WIDTHS = {"description": 40, "person": 24, "project": 24, "client": 20, "task": 20, "tags": 20, "start": 26,
          "end": 26, "user_id": 36, "entry_id": 36, "project_id": 36, "task_id": 36, "date": 12}  # fmt: skip
PROGRESS_EVERY = 5000


@dataclass(frozen=True)
class Facts:
    """What the second sheet states: the manifest's facts known before the file is written."""

    rows: list[tuple[str, str]]


def facts(manifest_facts: dict[str, Any]) -> Facts:
    """One (label, value) line per fact; nested values as compact JSON."""
    lines: list[tuple[str, str]] = []
    for name, value in manifest_facts.items():
        if isinstance(value, dict | list):
            lines.append((name, json.dumps(value, sort_keys=True, separators=(",", ":"))))
        else:
            lines.append((name, "" if value is None else str(value)))
    return Facts(lines)


def render(
    source: Path, target: Path, about: Facts, generated_at: datetime, progress: Callable[[int], None] | None = None
) -> int:
    """Write ``source`` (CSV with a header) to ``target`` as XLSX; returns the number of rows."""
    workbook = xlsxwriter.Workbook(str(target), {"constant_memory": True, "strings_to_numbers": False})
    # Fixed document times: the same rows make the same workbook (xlsxwriter would stamp "now").
    workbook.set_properties({"title": "worktime export", "created": generated_at.replace(tzinfo=None)})
    bold = workbook.add_format({"bold": True, "bottom": 1})
    total_label = workbook.add_format({"bold": True, "top": 1})
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    integer_format = workbook.add_format({"num_format": "0"})
    decimal_formats = {name: workbook.add_format({"num_format": code}) for name, code in DECIMALS.items()}
    total_formats = {
        name: workbook.add_format({"bold": True, "top": 1, "num_format": DECIMALS.get(name, "0")}) for name in SUMMED
    }
    sheet = workbook.add_worksheet("Rows")
    count = 0
    with source.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        columns = next(reader, [])
        for index, name in enumerate(columns):
            sheet.set_column(index, index, WIDTHS.get(name, max(len(name) + 2, 12)))
        sheet.freeze_panes(1, 0)
        for index, name in enumerate(columns):
            sheet.write_string(0, index, name, bold)
        sums: dict[int, Decimal] = {i: Decimal(0) for i, name in enumerate(columns) if name in SUMMED}
        currencies: set[str] = set()
        currency_at = columns.index("currency") if "currency" in columns else None
        for count, values in enumerate(reader, start=1):
            if currency_at is not None and values[currency_at]:
                currencies.add(values[currency_at])
            for index, (name, value) in enumerate(zip(columns, values, strict=False)):
                if value == "":
                    continue
                if name in DATES:
                    sheet.write_datetime(count, index, datetime.combine(date.fromisoformat(value), datetime.min.time()),
                                         date_format)  # fmt: skip
                elif name in INTEGERS or name in DECIMALS:
                    try:
                        number = Decimal(value)
                    except InvalidOperation:
                        sheet.write_string(count, index, value)
                        continue
                    if index in sums:
                        sums[index] += number
                    if name in INTEGERS:
                        sheet.write_number(count, index, int(number), integer_format)
                    else:
                        sheet.write_number(count, index, float(number), decimal_formats[name])
                else:
                    sheet.write_string(count, index, value)
            if progress is not None and count % PROGRESS_EVERY == 0:
                progress(count)
    total_row = count + 1
    if columns:
        sheet.write_string(total_row, 0, "Total", total_label)
    for index, summed in sums.items():
        name = columns[index]
        if name == "amount" and len(currencies) > 1:
            sheet.write_string(total_row, index, "mixed currencies", total_label)
            continue
        cached: float | int = int(summed) if name in INTEGERS else float(summed)
        if count:
            span = f"{xl_rowcol_to_cell(1, index)}:{xl_rowcol_to_cell(count, index)}"
            sheet.write_formula(total_row, index, f"=SUM({span})", total_formats[name], cached)
        else:
            sheet.write_number(total_row, index, cached, total_formats[name])

    info = workbook.add_worksheet("Export")
    info.set_column(0, 0, 20)
    info.set_column(1, 1, 80)
    info.write_string(0, 0, "fact", bold)
    info.write_string(0, 1, "value", bold)
    for line, (label, value) in enumerate([*about.rows, ("row_count", str(count))], start=1):
        info.write_string(line, 0, label)
        info.write_string(line, 1, value)
    workbook.close()
    if progress is not None:
        progress(count)
    return count
