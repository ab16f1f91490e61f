"""How the CLI shows workflows and steps: aligned tables for people, JSON for programs.

JSON keeps every field under its Python API name, times as epoch milliseconds; a value
that JSON cannot hold (an object of the application's own class, an exception) is shown as
its ``repr`` (an exception as ``{"type", "message"}``), since the CLI has none of the
application's code to do better. Tables show the fields that fit on a line, times in UTC.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from dbos import StepInfo, WorkflowStatus

# Longer cells are cut, so that one long output does not push a table's columns apart.
MAX_CELL = 60


def _jsonable(value: object) -> object:
    if isinstance(value, BaseException):
        return {"type": type(value).__name__, "message": str(value)}
    return repr(value)


def to_json(value: object) -> str:
    """``value`` as indented JSON, with what JSON cannot hold made readable."""
    return json.dumps(value, indent=2, default=_jsonable)


def status_record(status: WorkflowStatus) -> dict[str, Any]:
    """Every field of a workflow status, by its API name."""
    return dict(vars(status))


def step_record(step: StepInfo) -> dict[str, Any]:
    return dict(step)


def utc_time(epoch_ms: int | None) -> str:
    if epoch_ms is None:
        return ""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    text = " ".join(text.split())  # one line per row
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 3] + "..."


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Rows under headers, each column as wide as its widest cell."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    lines = [list(headers), ["-" * w for w in widths], *cells]
    padded = ("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines)
    return "\n".join(line.rstrip() for line in padded)


def workflows_table(statuses: Sequence[WorkflowStatus]) -> str:
    if not statuses:
        return "No workflows found."
    headers = ("WORKFLOW ID", "STATUS", "NAME", "QUEUE", "CREATED (UTC)", "APP VERSION")
    rows = [
        (s.workflow_id, s.status, s.name, s.queue_name, utc_time(s.created_at), s.app_version)
        for s in statuses
    ]
    return table(headers, rows)


def workflow_details(status: WorkflowStatus) -> str:
    """One workflow, a field per line; inputs, outputs and errors as Python shows them."""
    fields: list[tuple[str, object]] = [
        ("Workflow ID", status.workflow_id),
        ("Status", status.status),
        ("Name", status.name),
        ("Class", status.class_name),
        ("Config", status.config_name),
        ("Queue", status.queue_name),
        ("Application", status.application_name),
        ("App version", status.app_version),
        ("Executor", status.executor_id),
        ("Created (UTC)", utc_time(status.created_at)),
        ("Updated (UTC)", utc_time(status.updated_at)),
        ("Completed (UTC)", utc_time(status.completed_at)),
        ("Parent", status.parent_workflow_id),
        ("Forked from", status.forked_from),
        ("Attributes", status.attributes),
    ]
    python_values = [("Input", status.input), ("Output", status.output), ("Error", status.error)]
    shown = [(k, str(v)) for k, v in fields if v not in (None, "")]
    shown += [(k, repr(v)) for k, v in python_values if v is not None]
    width = max(len(k) for k, _ in shown) + 1
    return "\n".join(f"{k + ':':<{width}} {v}" for k, v in shown)


def steps_table(steps: Sequence[StepInfo]) -> str:
    if not steps:
        return "No steps recorded."
    headers = ("STEP", "NAME", "OUTCOME", "CHILD WORKFLOW", "STARTED (UTC)", "MS")
    rows = []
    for s in steps:
        error = s["error"]
        outcome = f"error: {error!r}" if error is not None else repr(s["output"])
        started, completed = s["started_at_epoch_ms"], s["completed_at_epoch_ms"]
        duration = completed - started if started is not None and completed is not None else None
        rows.append(
            (s["function_id"], s["function_name"], outcome, s["child_workflow_id"],
             utc_time(started), duration)
        )  # fmt: skip
    return table(headers, rows)
