"""Reading Toggl and Clockify "detailed" CSV exports into rows, each with an idempotency key.

Both tools export local wall-clock times without an offset; they are read in the time zone of the
person the row belongs to (their member time zone here, UTC by default). The key of a row is a hash of
its source, its cells and how often the same cells occurred before in the file, so importing the same
file again, or an export that overlaps an earlier one, adds nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

TOGGL_COLUMNS = [
    "User", "Email", "Client", "Project", "Task", "Description", "Billable",
    "Start date", "Start time", "End date", "End time", "Duration", "Tags",
]  # fmt: skip
CLOCKIFY_COLUMNS = [
    "Project", "Client", "Description", "Task", "User", "Group", "Email", "Tags", "Billable",
    "Start Date", "Start Time", "End Date", "End Time", "Duration (h)",
]  # fmt: skip
_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y")
_TIME_FORMATS = ("%H:%M:%S", "%H:%M", "%I:%M:%S %p", "%I:%M %p")


@dataclass(frozen=True, slots=True)
class ImportRow:
    line: int
    key: str
    email: str
    project: str
    description: str | None
    billable: bool | None  # None: the column was empty, so the project's default applies
    start: datetime  # naive: local wall-clock time of the row's person
    end: datetime
    tags: list[str]


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    reason: str


def file_hash(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def _date(value: str) -> datetime:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value.strip(), fmt)
        except ValueError:
            continue
    raise ValueError(f"unreadable date '{value}'")


def _time(value: str) -> timedelta:
    for fmt in _TIME_FORMATS:
        try:
            parsed = datetime.strptime(value.strip().upper(), fmt)
        except ValueError:
            continue
        return timedelta(hours=parsed.hour, minutes=parsed.minute, seconds=parsed.second)
    raise ValueError(f"unreadable time '{value}'")


def _duration(value: str) -> timedelta:
    hours, minutes, seconds = (int(part) for part in value.strip().split(":"))
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


def _bool(value: str) -> bool | None:
    cleaned = value.strip().lower()
    return None if not cleaned else cleaned in {"yes", "true", "1", "y"}


def parse(source: str, content: str) -> tuple[list[ImportRow | RowError], str | None]:
    """The rows of an export, and a reason when the file as a whole cannot be read."""
    columns = TOGGL_COLUMNS if source == "toggl" else CLOCKIFY_COLUMNS
    reader = csv.DictReader(io.StringIO(content.lstrip("\ufeff")))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in columns if name not in header]
    if missing:
        return [], f"not a {source} detailed export: missing column(s) {', '.join(missing)}"
    reader.fieldnames = header
    seen: Counter[tuple[str, ...]] = Counter()
    rows: list[ImportRow | RowError] = []
    for record in reader:
        line = reader.line_num
        cells = tuple((record.get(name) or "").strip() for name in header)
        seen[cells] += 1
        key = hashlib.sha256("\x1f".join((source, *cells, str(seen[cells]))).encode()).hexdigest()
        try:
            rows.append(_row(source, record, line, key))
        except (ValueError, KeyError) as exc:
            rows.append(RowError(line, str(exc)))
    return rows, None


def _row(source: str, record: dict[str, str], line: int, key: str) -> ImportRow:
    get = {name: (value or "").strip() for name, value in record.items() if name}
    if source == "toggl":
        start_date, start_time, end_date, end_time = (
            get["Start date"], get["Start time"], get["End date"], get["End time"],
        )  # fmt: skip
    else:
        start_date, start_time, end_date, end_time = (
            get["Start Date"], get["Start Time"], get["End Date"], get["End Time"],
        )  # fmt: skip
    if not get["Email"]:
        raise ValueError("no email address to match a member")
    if not get["Project"]:
        raise ValueError("no project")
    start = _date(start_date) + _time(start_time)
    if end_date and end_time:
        end = _date(end_date) + _time(end_time)
    elif source == "toggl" and get.get("Duration"):
        end = start + _duration(get["Duration"])
    else:
        raise ValueError("no end time")
    tags = [tag.strip() for tag in get.get("Tags", "").split(",") if tag.strip()]
    return ImportRow(
        line=line,
        key=key,
        email=get["Email"].lower(),
        project=get["Project"],
        description=get.get("Description") or None,
        billable=_bool(get.get("Billable", "")),
        start=start,
        end=end,
        tags=tags,
    )
