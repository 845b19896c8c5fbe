"""The export's record count (the manifest's ``row_count``) against Python's own CSV reader, for
fields with line breaks, quotes and commas, fed in chunks that cut anywhere."""

from __future__ import annotations

import csv
import io
import random

from backend.exports.tasks import CsvRecords

CELLS = ["plain", "two\nlines", 'say "hi"', "a,b", '"\n"', "", "=1+1", "\r\nwindows", "ünïcödé"]


def test_records_are_counted_like_a_csv_reader_counts_them() -> None:
    rng = random.Random(20261126)
    for _ in range(200):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["entry_id", "description", "tags"])
        rows = rng.randint(0, 40)
        for n in range(rows):
            writer.writerow([n, rng.choice(CELLS), rng.choice(CELLS)])
        data = out.getvalue().encode()
        records = CsvRecords()
        at = 0
        while at < len(data):
            step = rng.randint(1, 64)
            records.feed(data[at : at + step])
            at += step
        assert records.rows == rows == sum(1 for _ in csv.reader(io.StringIO(data.decode()))) - 1


def test_an_empty_export_has_no_rows() -> None:
    records = CsvRecords()
    assert records.rows == 0
    records.feed(b"entry_id,description\n")
    assert records.rows == 0
