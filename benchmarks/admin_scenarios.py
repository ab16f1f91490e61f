"""The admin benchmarks (``run_all.py --suite admin``): listing and garbage collection at scale.

- **Load.** N workflow rows (1,000,000 in the full run) and ``steps`` checkpoint rows each,
  bulk-inserted behind DBOS's back with one ``INSERT ... SELECT`` per table (``generate_series``
  on Postgres, a recursive CTE on SQLite), copying the payloads of one real workflow. Status
  mix by row number: 85% SUCCESS, 10% ERROR, 3% CANCELLED, 1% ENQUEUED (on a queue nobody
  serves), 1% PENDING (of a dead executor); 20 workflow names in blocks of 100 rows; one
  row every 10 ms of creation time.
- **List latency.** ``DBOS.list_workflows(..., limit=100)`` end to end (query plus decoding
  100 statuses with their inputs and outputs), for a status filter (common, rarer, rare), a
  name filter, name and status combined, newest-first variants, no filter, and
  ``list_queued_workflows``; p50 and p95 over repeated calls. The plan each query got is
  printed once (EXPLAIN), so an index that is not used shows.
- **GC.** ``DBOS.garbage_collect`` of every finished row (about 98% of N) in batches of
  10,000, while a thread runs 3-step workflows back to back: rows deleted per second, and
  the workflows' latency before and during the collection (a GC that blocked them would
  show in the maximum).

Nothing here asserts on a number.
"""

from __future__ import annotations

import sqlite3
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg

from dbos import DBOS, DBOSConfig, SetWorkflowID
from dbos._api.state import state
from session import Target, log
from workload import three_steps

NAMES = 20
PARKED_QUEUE = "bench-admin-parked"
TEMPLATE_ID = "admin-template"

LIST_QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("status=SUCCESS (85%)", {"status": "SUCCESS"}),
    ("status=ERROR (10%)", {"status": "ERROR"}),
    ("status=PENDING (1%)", {"status": "PENDING"}),
    ("name (5%)", {"name": "bench_load_7"}),
    ("name + status=ERROR (0.5%)", {"name": "bench_load_7", "status": "ERROR"}),
    ("status=ERROR, newest first", {"status": "ERROR", "sort_desc": True}),
    ("name, newest first", {"name": "bench_load_7", "sort_desc": True}),
    ("no filter", {}),
    ("list_queued_workflows", {"queued": True}),
]


@dataclass(frozen=True)
class AdminPlan:
    rows: int
    steps_per_workflow: int
    list_repeats: int
    baseline_seconds: float


ADMIN_FULL = AdminPlan(1_000_000, 2, 200, 3.0)
ADMIN_QUICK = AdminPlan(100_000, 2, 50, 1.0)


@dataclass
class Latencies:
    label: str
    samples_ms: list[float]
    plan: str = ""

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95(self) -> float:
        return percentile(self.samples_ms, 95)


@dataclass
class GCResult:
    deleted: int
    seconds: float
    batch_ms: list[float]
    baseline_ms: list[float] = field(default_factory=list)
    during_ms: list[float] = field(default_factory=list)


@dataclass
class AdminReport:
    backend: str
    rows: int
    step_rows: int
    load_seconds: float
    lists: list[Latencies]
    gc: GCResult


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


# ---------------------------------------------------------------- bulk load

# {p} is the table prefix; :n the row count; :base the first created_at. Statuses follow
# the row number (g % 100), names blocks of 100 rows, so every name holds every status.
STATUS_OF_ROW = """CASE
    WHEN g % 100 < 85 THEN 'SUCCESS' WHEN g % 100 < 95 THEN 'ERROR'
    WHEN g % 100 < 98 THEN 'CANCELLED' WHEN g % 100 = 98 THEN 'ENQUEUED' ELSE 'PENDING' END"""

WORKFLOW_COLUMNS = (
    "workflow_uuid, status, name, inputs, output, serialization, executor_id, "
    "application_version, application_name, created_at, updated_at, recovery_attempts, "
    "queue_name, started_at_epoch_ms, completed_at, owner_xid"
)


def workflow_select(row_id: str, name: str) -> str:
    return f"""
SELECT {row_id}, {STATUS_OF_ROW}, {name},
    t.inputs, CASE WHEN g % 100 < 85 THEN t.output END, t.serialization,
    CASE WHEN g % 100 = 99 THEN 'dead-executor' ELSE 'local' END,
    t.application_version, t.application_name, :base + g * 10, :base + g * 10 + 5, 1,
    CASE WHEN g % 100 = 98 THEN '{PARKED_QUEUE}' END,
    CASE WHEN g % 100 <> 98 THEN :base + g * 10 + 1 END,
    CASE WHEN g % 100 < 98 THEN :base + g * 10 + 5 END, 'bulk'
FROM {{p}}workflow_status t"""


STEP_COLUMNS = (
    "workflow_uuid, function_id, function_name, output, serialization, "
    "started_at_epoch_ms, completed_at_epoch_ms, application_name"
)


def step_select(row_id: str) -> str:
    return f"""
SELECT {row_id}, s.function_id, s.function_name, s.output, s.serialization,
    :base + g * 10 + 1, :base + g * 10 + 2, s.application_name
FROM {{p}}operation_outputs s"""


def load_postgres(url: str, schema: str, rows: int, steps: int, base: int) -> None:
    prefix = f'"{schema}".'
    row_id = "'wf-' || lpad(g::text, 8, '0')"
    name = f"'bench_load_' || ((g / 100) % {NAMES})"
    workflows = (
        f"INSERT INTO {prefix}workflow_status ({WORKFLOW_COLUMNS}) "
        + workflow_select(row_id, name).replace("{p}", prefix)
        + ", generate_series(1, :n) g WHERE t.workflow_uuid = :template"
    )
    step_rows = (
        f"INSERT INTO {prefix}operation_outputs ({STEP_COLUMNS}) "
        + step_select(row_id).replace("{p}", prefix)
        + ", generate_series(1, :n) g WHERE s.workflow_uuid = :template AND s.function_id <= :k"
    )
    params = {"n": rows, "base": base, "template": TEMPLATE_ID, "k": steps}
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in (workflows, step_rows):
            conn.execute(_pyformat(statement), params)
        conn.execute(f"ANALYZE {prefix}workflow_status")
        conn.execute(f"ANALYZE {prefix}operation_outputs")


def load_sqlite(path: str, rows: int, steps: int, base: int) -> None:
    series = (
        "WITH RECURSIVE series(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM series WHERE g < :n) "
    )
    row_id = "printf('wf-%08d', g)"
    name = f"'bench_load_' || ((g / 100) % {NAMES})"
    workflows = (
        series
        + f"INSERT INTO workflow_status ({WORKFLOW_COLUMNS}) "
        + workflow_select(row_id, name).replace("{p}", "")
        + ", series WHERE t.workflow_uuid = :template"
    )
    step_rows = (
        series
        + f"INSERT INTO operation_outputs ({STEP_COLUMNS}) "
        + step_select(row_id).replace("{p}", "")
        + ", series WHERE s.workflow_uuid = :template AND s.function_id <= :k"
    )
    params = {"n": rows, "base": base, "template": TEMPLATE_ID, "k": steps}
    conn = sqlite3.connect(path, isolation_level=None, timeout=60)
    try:
        conn.execute("BEGIN IMMEDIATE")
        for statement in (workflows, step_rows):
            conn.execute(statement, params)
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
    finally:
        conn.close()


def _pyformat(statement: str) -> str:
    """``:name`` parameters as psycopg's ``%(name)s`` (and a literal % as %%)."""
    statement = statement.replace("%", "%%")
    for key in ("template", "base", "n", "k"):
        statement = statement.replace(f":{key}", f"%({key})s")
    return statement


def bulk_load(target: Target, plan: AdminPlan) -> tuple[float, int]:
    """Load the rows; returns (seconds, created_at of the first row)."""
    with SetWorkflowID(TEMPLATE_ID):
        three_steps(0)  # a real workflow whose payloads every loaded row copies
    base = time.time_ns() // 1_000_000 - plan.rows * 10 - 60_000
    url = target.config["system_database_url"]
    assert url is not None
    started = time.perf_counter()
    if target.name == "sqlite":
        load_sqlite(url[len("sqlite:///") :], plan.rows, plan.steps_per_workflow, base)
    else:
        schema = target.config.get("dbos_system_schema") or "dbos"
        load_postgres(url, schema, plan.rows, plan.steps_per_workflow, base)
    return time.perf_counter() - started, base


# ---------------------------------------------------------------- listing


@contextmanager
def captured_queries() -> Iterator[list[tuple[str, Any]]]:
    """Every listing query the system database runs while the block runs (for EXPLAIN)."""
    rt = state.runtime
    assert rt is not None
    backend: Any = rt.db.backend
    original = backend.read_rows
    seen: list[tuple[str, Any]] = []

    def read_rows(query: str, params: Any = ()) -> Any:
        seen.append((query, params))
        return original(query, params)

    backend.read_rows = read_rows
    try:
        yield seen
    finally:
        backend.read_rows = original


@contextmanager
def captured_writes() -> Iterator[list[float]]:
    """The duration (ms) of each write transaction this thread runs in the block: GC batches."""
    rt = state.runtime
    assert rt is not None
    backend: Any = rt.db.backend
    original = backend.transact
    durations: list[float] = []
    caller = threading.get_ident()

    def transact(fn: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(fn)
        finally:
            if threading.get_ident() == caller:
                durations.append((time.perf_counter() - started) * 1000)

    backend.transact = transact
    try:
        yield durations
    finally:
        backend.transact = original


def explain(target: Target, query: str, params: Any) -> str:
    url = target.config["system_database_url"]
    assert url is not None
    if target.name == "sqlite":
        conn = sqlite3.connect(url[len("sqlite:///") :])
        try:
            rows = conn.execute("EXPLAIN QUERY PLAN " + query, params).fetchall()
        finally:
            conn.close()
        return " / ".join(r[-1] for r in rows)
    with psycopg.connect(url, autocommit=True) as pg:
        plan = pg.execute(f"EXPLAIN {query}", params).fetchall()
    return " / ".join(r[0].strip() for r in plan if "->" in r[0] or r is plan[0])


def list_call(kwargs: dict[str, Any]) -> Callable[[], Any]:
    options = dict(kwargs)
    if options.pop("queued", False):
        return lambda: DBOS.list_queued_workflows(limit=100, **options)
    return lambda: DBOS.list_workflows(limit=100, **options)


def measure_lists(target: Target, repeats: int) -> list[Latencies]:
    results: list[Latencies] = []
    for label, kwargs in LIST_QUERIES:
        call = list_call(kwargs)
        with captured_queries() as seen:
            returned = len(call())
        plan = explain(target, *seen[-1]) if seen else ""
        for _ in range(5):
            call()  # warm: plan caches, prepared statements, pages
        samples: list[float] = []
        for _ in range(repeats):
            started = time.perf_counter()
            call()
            samples.append((time.perf_counter() - started) * 1000)
        result = Latencies(label, samples, plan)
        results.append(result)
        log(
            target.name,
            f"list {label}: {returned} rows, p50 {result.p50:.2f} ms, p95 {result.p95:.2f} ms",
        )
    return results


# ---------------------------------------------------------------- garbage collection


class Background:
    """3-step workflows back to back in a thread, each one's latency recorded."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []  # (finished at, latency ms)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-admin-load", daemon=True)

    def _run(self) -> None:
        x = 0
        while not self._stop.is_set():
            started = time.perf_counter()
            three_steps(x)
            finished = time.perf_counter()
            self.samples.append((finished, (finished - started) * 1000))
            x += 1

    def __enter__(self) -> Background:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def between(self, start: float, end: float) -> list[float]:
        return [ms for at, ms in self.samples if start <= at <= end]


def measure_gc(target: Target, plan: AdminPlan) -> GCResult:
    cutoff = time.time_ns() // 1_000_000 - 30_000  # every loaded row, none of the live ones
    with Background() as load:
        time.sleep(plan.baseline_seconds)  # a benchmark, not a test: a window of load alone
        started = time.perf_counter()
        # The default batch size: 10,000 rows on Postgres, 1,000 on SQLite.
        with captured_writes() as batches:
            deleted = DBOS.garbage_collect(cutoff_epoch_timestamp_ms=cutoff)
        ended = time.perf_counter()
        time.sleep(0.2)
    baseline = load.between(started - plan.baseline_seconds, started)
    during = load.between(started, ended)
    result = GCResult(deleted, ended - started, batches, baseline, during)
    log(
        target.name,
        f"GC: {deleted:,} rows in {result.seconds:.1f} s ({deleted / result.seconds:,.0f}/s); "
        f"{len(batches)} batches (max {max(batches, default=0):.0f} ms); "
        f"workflow p50/p99/max {summary(baseline)} before, {summary(during)} during",
    )
    return result


def summary(samples: list[float]) -> str:
    if not samples:
        return "n/a"
    return f"{statistics.median(samples):.1f}/{percentile(samples, 99):.1f}/{max(samples):.1f} ms"


# ---------------------------------------------------------------- the suite


def admin_config(target: Target) -> DBOSConfig:
    config: DBOSConfig = {**target.config, "application_version": "bench-admin"}
    return config


def run_admin_backend(target: Target, plan: AdminPlan) -> AdminReport:
    """Launch DBOS on ``target``, load, list, collect; leave DBOS destroyed."""
    DBOS(config=admin_config(target))
    DBOS.reset_system_database()
    DBOS.launch()
    try:
        load_seconds, _ = bulk_load(target, plan)
        log(target.name, f"loaded {plan.rows:,} workflows in {load_seconds:.1f} s")
        lists = measure_lists(target, plan.list_repeats)
        gc = measure_gc(target, plan)
        return AdminReport(
            target.name, plan.rows, plan.rows * plan.steps_per_workflow, load_seconds, lists, gc
        )
    finally:
        DBOS.destroy()


def summary_table(reports: list[AdminReport]) -> str:
    lines = []
    for r in reports:
        lines.append(
            f"{r.backend}: {r.rows:,} workflows + {r.step_rows:,} steps loaded in "
            f"{r.load_seconds:.1f} s"
        )
        lines.append(f"  {'list_workflows(limit=100)':<34} {'p50 ms':>8} {'p95 ms':>8}")
        for lat in r.lists:
            lines.append(f"  {lat.label:<34} {lat.p50:>8.2f} {lat.p95:>8.2f}")
        gc = r.gc
        lines.append(
            f"  GC: {gc.deleted:,} rows in {gc.seconds:.1f} s = {gc.deleted / gc.seconds:,.0f} "
            f"rows/s, {len(gc.batch_ms)} batches (p50 {statistics.median(gc.batch_ms):.0f} ms, "
            f"max {max(gc.batch_ms):.0f} ms each)"
        )
        lines.append(
            f"  3-step workflow latency p50/p99/max: {summary(gc.baseline_ms)} before GC, "
            f"{summary(gc.during_ms)} during ({len(gc.during_ms)} workflows)"
        )
        lines.append("  plans:")
        lines.extend(f"    {lat.label}: {lat.plan}" for lat in r.lists)
    return "\n".join(lines)
