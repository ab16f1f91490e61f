"""WorkflowListStore: reading many workflows at once (list APIs), their steps and descendants.

A list query is assembled from a ``WorkflowFilter`` (decided in ``_core``). Its shape is
chosen for the indexes of migration 0004 (list_indexes): a filter on one name, or on one
failed or active status, with ``ORDER BY created_at LIMIT n`` is answered by an ordered
scan of ``(name, created_at)`` or of a partial index that stops after n rows, whatever the
table's size; successful workflows, the bulk of most tables, come from the created_at
index.
"""

from __future__ import annotations

from typing import Any

from dbos._core.status import ACTIVE, WorkflowStatusString
from dbos._core.workflow_filters import WorkflowFilter
from dbos._storage.backend import Backend
from dbos._storage.dialect import Dialect
from dbos._storage.records import WORKFLOW_COLUMNS, StepInfoRow, WorkflowRow

_COLUMNS = [c.strip() for c in WORKFLOW_COLUMNS.split(",")]
_STATUS_LITERALS = {s.value: f"'{s.value}'" for s in WorkflowStatusString}
# Literal, not bound: both planners can then prove a partial index's predicate.
ACTIVE_SQL = ", ".join(sorted(_STATUS_LITERALS[s] for s in ACTIVE))
# The statuses of the partial indexes of migration 0004, spelled as in their predicates.
FAILED = frozenset({"CANCELLED", "ERROR", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"})
_PARTIAL_INDEX_PREDICATES = [
    (frozenset(ACTIVE), f"status IN ({ACTIVE_SQL})"),
    (FAILED, f"status IN ({', '.join(sorted(_STATUS_LITERALS[s] for s in FAILED))})"),
]

STEP_COLUMNS = (
    "function_id, function_name, {output}, {error}, child_workflow_id, started_at_epoch_ms, "
    "completed_at_epoch_ms, serialization"
)

# Every descendant of some workflows, by parent_workflow_id; UNION (not UNION ALL) makes a
# cycle, which only hand-edited rows could form, terminate.
DESCENDANTS = """
WITH RECURSIVE tree(workflow_uuid) AS (
    SELECT workflow_uuid FROM {s}workflow_status WHERE {roots}
    UNION
    SELECT w.workflow_uuid FROM {s}workflow_status w
    JOIN tree t ON w.parent_workflow_id = t.workflow_uuid
)
SELECT workflow_uuid FROM tree
"""

# Whether a workflow exists, and the highest function ID it recorded (0 for none). The ID is
# a parameter, not a correlation: SQLite pushes only the former into the checkpoints view.
LAST_FUNCTION_ID = """
SELECT (SELECT COALESCE(MAX(function_id), 0) FROM {s}checkpoints WHERE workflow_uuid = ?)
FROM {s}workflow_status WHERE workflow_uuid = ?
"""


def escape_like(text: str) -> str:
    r"""``text`` as a literal LIKE pattern (with ESCAPE '\\'): %, _ and \\ match themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def status_condition(statuses: tuple[str, ...], repeat_index_predicate: bool) -> str:
    """Statuses come from a fixed set (checked by the caller), so they are inlined.

    With ``repeat_index_predicate`` (SQLite), when the statuses all fall in a partial
    index's predicate, that predicate is added as written, so the planner can use the index.
    """
    literals = sorted(_STATUS_LITERALS[s] for s in statuses)
    if len(literals) == 1:
        condition = f"status = {literals[0]}"
    else:
        condition = f"status IN ({', '.join(literals)})"
    if repeat_index_predicate:
        for covered, predicate in _PARTIAL_INDEX_PREDICATES:
            if set(statuses) <= covered and predicate != condition:
                return f"{condition} AND {predicate}"
    return condition


class _Where:
    """WHERE terms and their parameters, in order."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.terms: list[str] = []
        self.params: list[Any] = []

    def add(self, term: str, *params: Any) -> None:
        self.terms.append(term)
        self.params.extend(params)

    def member(self, column: str, values: tuple[str, ...] | None) -> None:
        if values is None:
            return
        if len(values) == 1:  # "=" lets the planner walk a (column, created_at) index in order
            self.add(f"{column} = ?", values[0])
            return
        term, params = self.dialect.member_of(column, values)
        self.add(term, *params)

    def between(self, column: str, low: int | None, high: int | None) -> None:
        if low is not None:
            self.add(f"{column} >= ?", low)
        if high is not None:
            self.add(f"{column} <= ?", high)

    def text(self) -> str:
        return " AND ".join(self.terms) if self.terms else "TRUE"


def _matches_nothing(f: WorkflowFilter) -> bool:
    lists = (
        f.workflow_ids, f.statuses, f.names, f.app_versions, f.forked_from,
        f.parent_workflow_ids, f.users, f.queue_names, f.executor_ids, f.schedule_names,
        f.application_names,
    )  # fmt: skip
    return any(values is not None and not values for values in lists)


def _where(dialect: Dialect, f: WorkflowFilter) -> _Where:
    w = _Where(dialect)
    w.member("workflow_uuid", f.workflow_ids)
    if f.statuses is not None:
        w.add(status_condition(f.statuses, dialect.repeats_index_predicates))
    w.member("name", f.names)
    w.member("application_version", f.app_versions)
    w.member("forked_from", f.forked_from)
    w.member("parent_workflow_id", f.parent_workflow_ids)
    w.member("authenticated_user", f.users)
    w.member("queue_name", f.queue_names)
    w.member("executor_id", f.executor_ids)
    w.member("schedule_name", f.schedule_names)
    w.member("application_name", f.application_names)
    if f.workflow_id_prefix is not None:
        w.add("workflow_uuid LIKE ? ESCAPE '\\'", escape_like(f.workflow_id_prefix) + "%")
    w.between("created_at", f.created_from_ms, f.created_to_ms)
    w.between("completed_at", f.completed_from_ms, f.completed_to_ms)
    w.between("started_at_epoch_ms", f.dequeued_from_ms, f.dequeued_to_ms)
    if f.was_forked_from is not None:
        w.add(f"was_forked_from = {'TRUE' if f.was_forked_from else 'FALSE'}")
    if f.has_parent is not None:
        w.add(f"parent_workflow_id IS {'NOT NULL' if f.has_parent else 'NULL'}")
    if f.queued:
        w.add("queue_name IS NOT NULL")
    if f.attributes_json is not None:
        if not dialect.json_containment:
            raise ValueError(f"{dialect.name} cannot filter workflows by attributes")
        w.add("attributes @> ?", f.attributes_json)
    if f.scope_app is not None:
        w.add("(application_name = ? OR application_name IS NULL)", f.scope_app)
    return w


def _selected_columns(load_input: bool, load_output: bool) -> str:
    """The full row, with payloads nobody asked for left NULL (never read off disk)."""
    skipped = set() if load_input else {"inputs"}
    if not load_output:
        skipped |= {"output", "error"}
    return ", ".join("NULL" if c in skipped else c for c in _COLUMNS)


def _paging(dialect: Dialect, limit: int | None, offset: int | None) -> tuple[str, list[int]]:
    if limit is None and offset is None:
        return "", []
    if offset is None:
        return " LIMIT ?", [limit or 0]
    if limit is None:
        return f" LIMIT {dialect.no_limit} OFFSET ?", [offset]
    return " LIMIT ? OFFSET ?", [limit, offset]


class WorkflowListStore:
    def __init__(self, backend: Backend) -> None:
        self._db = backend
        self._dialect = backend.dialect
        self._last_function_id = self._dialect.sql(LAST_FUNCTION_ID)

    def workflows(self, f: WorkflowFilter) -> list[WorkflowRow]:
        """The workflows ``f`` selects, ordered by creation time."""
        if _matches_nothing(f):
            return []
        where = _where(self._dialect, f)
        paging, paging_params = _paging(self._dialect, f.limit, f.offset)
        query = (
            f"SELECT {_selected_columns(f.load_input, f.load_output)} "
            f"FROM {{s}}workflow_status WHERE {where.text()} "
            f"ORDER BY created_at {'DESC' if f.sort_desc else 'ASC'}{paging}"
        )
        rows = self._db.read_rows(self._dialect.sql(query), (*where.params, *paging_params))
        return [WorkflowRow.from_row(r) for r in rows]

    def steps(
        self, workflow_id: str, load_output: bool, limit: int | None, offset: int | None
    ) -> list[StepInfoRow]:
        """A workflow's recorded operations in function-ID order (none for an unknown ID)."""
        columns = STEP_COLUMNS.format(
            output="output" if load_output else "NULL", error="error" if load_output else "NULL"
        )
        paging, paging_params = _paging(self._dialect, limit, offset)
        query = (
            f"SELECT {columns} FROM {{s}}checkpoints WHERE workflow_uuid = ? "
            f"ORDER BY function_id{paging}"
        )
        rows = self._db.read_rows(self._dialect.sql(query), (workflow_id, *paging_params))
        return [StepInfoRow(*r) for r in rows]

    def descendants(self, workflow_ids: list[str]) -> list[str]:
        """Children, grandchildren, ... of ``workflow_ids`` (not the workflows themselves)."""
        if not workflow_ids:
            return []
        roots, params = self._dialect.member_of("parent_workflow_id", workflow_ids)
        query = self._dialect.sql(DESCENDANTS.replace("{roots}", roots))
        return [r[0] for r in self._db.read_all(query, params)]

    def existing(self, workflow_ids: list[str]) -> set[str]:
        if not workflow_ids:
            return set()
        condition, params = self._dialect.member_of("workflow_uuid", workflow_ids)
        query = self._dialect.sql(
            f"SELECT workflow_uuid FROM {{s}}workflow_status WHERE {condition}"
        )
        return {r[0] for r in self._db.read_all(query, params)}

    def last_function_id(self, workflow_id: str) -> int | None:
        """The highest recorded function ID (0 if none); None if there is no such workflow."""
        row = self._db.read_one(self._last_function_id, (workflow_id, workflow_id))
        return None if row is None else int(row[0])
