"""Which workflows a list call asks for: its arguments checked and normalised into one filter.

Everything here is a decision made on the caller's arguments alone: lists mean OR within a
filter, ISO-8601 times become epoch milliseconds, ``queues_only`` narrows the statuses, and
the caller's application scopes the rows (spec 13.8). The storage layer turns the resulting
``WorkflowFilter`` into SQL without deciding anything further.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from dbos._core.status import ACTIVE, WorkflowStatusString

_STATUS_VALUES = frozenset(s.value for s in WorkflowStatusString)


class InvalidArgument(ValueError):
    """An argument to a list or management call is of the wrong type or out of range."""


@dataclass(frozen=True)
class WorkflowFilter:
    """A normalised list_workflows query. ``None`` means "not filtered on".

    Every tuple is an OR over its values (an empty tuple matches nothing); filters are ANDed.
    ``scope_app`` limits rows to that application's own plus unclaimed ones.
    """

    workflow_ids: tuple[str, ...] | None = None
    statuses: tuple[str, ...] | None = None
    names: tuple[str, ...] | None = None
    app_versions: tuple[str, ...] | None = None
    forked_from: tuple[str, ...] | None = None
    parent_workflow_ids: tuple[str, ...] | None = None
    users: tuple[str, ...] | None = None
    queue_names: tuple[str, ...] | None = None
    executor_ids: tuple[str, ...] | None = None
    schedule_names: tuple[str, ...] | None = None
    application_names: tuple[str, ...] | None = None
    workflow_id_prefix: str | None = None
    created_from_ms: int | None = None
    created_to_ms: int | None = None
    completed_from_ms: int | None = None
    completed_to_ms: int | None = None
    dequeued_from_ms: int | None = None
    dequeued_to_ms: int | None = None
    was_forked_from: bool | None = None
    has_parent: bool | None = None
    queued: bool = False  # queue_name IS NOT NULL
    attributes_json: str | None = None
    scope_app: str | None = None
    limit: int | None = None
    offset: int | None = None
    sort_desc: bool = False
    load_input: bool = True
    load_output: bool = True


def epoch_ms(value: object, name: str) -> int | None:
    """An ISO-8601 string (or aware datetime) as epoch ms; a naive time is taken as UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        # Python 3.10's fromisoformat does not accept the "Z" suffix.
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidArgument(f"{name} must be an ISO-8601 time, got {value!r}") from None
    if not isinstance(value, datetime):
        raise InvalidArgument(f"{name} must be an ISO-8601 string, got {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return int(value.timestamp() * 1000)


def string_list(value: object, name: str) -> tuple[str, ...] | None:
    """One string or a list of strings, as a tuple; None stays None (not filtered)."""
    if value is None:
        return None
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [v.value if isinstance(v, Enum) else v for v in value]
        if all(isinstance(v, str) for v in items):
            return tuple(dict.fromkeys(items))  # duplicates add nothing to an OR
    raise InvalidArgument(f"{name} must be a string or a list of strings, got {value!r}")


def statuses(value: object) -> tuple[str, ...] | None:
    found = string_list(value, "status")
    if found is not None:
        unknown = [s for s in found if s not in _STATUS_VALUES]
        if unknown:
            raise InvalidArgument(
                f"Invalid workflow status {unknown[0]!r}; expected one of "
                f"{', '.join(sorted(_STATUS_VALUES))}"
            )
    return found


def optional_bool(value: object, name: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise InvalidArgument(f"{name} must be True, False or None, got {value!r}")


def flag(value: object, name: str) -> bool:
    if isinstance(value, bool):
        return value
    raise InvalidArgument(f"{name} must be True or False, got {value!r}")


def count(value: object, name: str) -> int | None:
    """A limit or offset: None, or an integer >= 0."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgument(f"{name} must be an integer >= 0, got {value!r}")
    return value


def attributes_json(value: object, name: str = "attributes") -> str | None:
    """A JSON-serialisable dict with string keys, as JSON text; None stays None."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InvalidArgument(f"Workflow {name} must be a dict with string keys, got {value!r}")
    try:
        return json.dumps(dict(value), sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"Workflow {name} must be JSON-serializable: {exc}") from exc


def _prefix(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise InvalidArgument(f"workflow_id_prefix must be a string, got {value!r}")


def _scope(
    caller_app: str | None, workflow_ids: tuple[str, ...] | None, explicit: tuple[str, ...] | None
) -> str | None:
    """Spec 13.8: an explicit application filter, or a list by ID, is not scoped further.

    IDs are global addresses; otherwise rows default to the caller's own plus unclaimed ones
    (a caller with no application, such as a client without one, sees every row).
    """
    if explicit is not None or workflow_ids is not None:
        return None
    return caller_app


def build_workflow_filter(caller_app: str | None, args: Mapping[str, Any]) -> WorkflowFilter:
    """Check and normalise list_workflows' keyword arguments (by their public names)."""
    workflow_ids = string_list(args.get("workflow_ids"), "workflow_ids")
    explicit_apps = string_list(args.get("application_name"), "application_name")
    status = statuses(args.get("status"))
    queues_only = flag(args.get("queues_only", False), "queues_only")
    if queues_only and status is None:
        status = tuple(sorted(ACTIVE))
    return WorkflowFilter(
        workflow_ids=workflow_ids,
        statuses=status,
        names=string_list(args.get("name"), "name"),
        app_versions=string_list(args.get("app_version"), "app_version"),
        forked_from=string_list(args.get("forked_from"), "forked_from"),
        parent_workflow_ids=string_list(args.get("parent_workflow_id"), "parent_workflow_id"),
        users=string_list(args.get("user"), "user"),
        queue_names=string_list(args.get("queue_name"), "queue_name"),
        executor_ids=string_list(args.get("executor_id"), "executor_id"),
        schedule_names=string_list(args.get("schedule_name"), "schedule_name"),
        application_names=explicit_apps,
        workflow_id_prefix=_prefix(args.get("workflow_id_prefix")),
        created_from_ms=epoch_ms(args.get("start_time"), "start_time"),
        created_to_ms=epoch_ms(args.get("end_time"), "end_time"),
        completed_from_ms=epoch_ms(args.get("completed_after"), "completed_after"),
        completed_to_ms=epoch_ms(args.get("completed_before"), "completed_before"),
        dequeued_from_ms=epoch_ms(args.get("dequeued_after"), "dequeued_after"),
        dequeued_to_ms=epoch_ms(args.get("dequeued_before"), "dequeued_before"),
        was_forked_from=optional_bool(args.get("was_forked_from"), "was_forked_from"),
        has_parent=optional_bool(args.get("has_parent"), "has_parent"),
        queued=queues_only,
        attributes_json=attributes_json(args.get("attributes")),
        scope_app=_scope(caller_app, workflow_ids, explicit_apps),
        limit=count(args.get("limit"), "limit"),
        offset=count(args.get("offset"), "offset"),
        sort_desc=flag(args.get("sort_desc", False), "sort_desc"),
        load_input=flag(args.get("load_input", True), "load_input"),
        load_output=flag(args.get("load_output", True), "load_output"),
    )
