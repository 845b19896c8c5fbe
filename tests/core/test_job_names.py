"""Services send jobs by their actor's name (so a service never imports its job module); a misspelt
name would sit in the outbox until a worker refused it. Every name sent in the code must be a job."""

from __future__ import annotations

import ast
from pathlib import Path

import backend.tasks  # noqa: F401  (registers every job, as the worker does)
from backend.core import jobs

BACKEND = Path(__file__).resolve().parents[2] / "backend"


def _names_sent() -> dict[str, list[str]]:
    sent: dict[str, list[str]] = {}
    for path in sorted(BACKEND.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args):
                continue
            if node.func.attr != "send" or not (isinstance(node.func.value, ast.Name) and node.func.value.id == "jobs"):
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                sent.setdefault(first.value, []).append(f"{path.relative_to(BACKEND)}:{node.lineno}")
    return sent


def test_every_job_sent_by_name_is_registered() -> None:
    sent = _names_sent()
    assert {"run_import", "run_export", "process_ping"} <= set(sent)  # the scan finds the call sites
    unknown = {name: where for name, where in sent.items() if name not in jobs.registered_names()}
    assert not unknown, f"jobs sent by a name no job module registers: {unknown}"
