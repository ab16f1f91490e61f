"""One backend's benchmark session: launch DBOS on it and run everything, floor in between.

The order is fixed so that every timed scenario sits between two floor samples:

    floor, A, floor, [B, floor] x runs, C, floor, storage seam, profiles, floor
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg

from dbos import DBOS, DBOSConfig
from floor import FloorProbe, FloorSeries, PostgresFloor, SQLiteFloor, median_us
from profiling import ProfileResult, profile_long_workflow
from report import BackendReport
from scenarios import (
    Bracketed,
    LongWorkflowResult,
    long_workflow_run,
    sequential_workflows,
    warm_long_workflow,
    workflows_in_flight,
)
from storage_calls import measure_seam


@dataclass(frozen=True)
class Plan:
    """How much of each benchmark to run; ``--quick`` trades stability for time."""

    floor_commits_per_sample: int
    system_db_warmup_steps: int
    sequential: int
    sequential_warmup: int
    long_steps: int
    long_runs: int
    long_warmup_steps: int
    in_flight_width: int
    in_flight_rounds: int
    in_flight_warmup_rounds: int


# Sized from 0.15-0.5 ms per durable commit on an SSD: the full plan takes about 20 s per
# backend and the quick one about 6 s, warm-ups included. Floor samples are long enough
# (>= 50 ms) that one slow fsync moves a sample by a few percent, not tens.
FULL = Plan(800, 1500, 2000, 200, 1000, 9, 200, 64, 30, 2)
QUICK = Plan(250, 1500, 200, 30, 1000, 3, 100, 64, 4, 1)


@dataclass(frozen=True)
class Target:
    """One backend to benchmark: its DBOS config and where its floor table goes."""

    name: str
    config: DBOSConfig
    setting: str
    floor_sqlite_path: Path | None = None
    floor_postgres_url: str | None = None

    def open_floor(self) -> FloorProbe:
        if self.floor_sqlite_path is not None:
            return SQLiteFloor(self.floor_sqlite_path)
        assert self.floor_postgres_url is not None
        return PostgresFloor(self.floor_postgres_url)


def sqlite_target(out_dir: Path) -> Target:
    db_dir = out_dir / "sqlite"
    db_dir.mkdir(parents=True, exist_ok=True)
    config: DBOSConfig = {
        "name": "bench",
        "system_database_url": f"sqlite:///{db_dir / 'bench.sqlite'}",
        # Pinned rather than defaulted, so the floor and DBOS fsync the same way even if
        # the library's default changes.
        "sqlite_synchronous": "FULL",
        "log_level": "WARNING",
    }
    floor_path = db_dir / "floor.sqlite"  # same directory, hence same disk, as the system DB
    return Target("sqlite", config, "WAL, synchronous=FULL", floor_sqlite_path=floor_path)


def postgres_target(url: str) -> Target:
    config: DBOSConfig = {
        "name": "bench",
        "system_database_url": url,
        "dbos_system_schema": "bench",
        "log_level": "WARNING",
    }
    return Target("postgres", config, "synchronous_commit=on", floor_postgres_url=url)


def postgres_durability_warning(url: str) -> str | None:
    """The floor forces synchronous_commit on; DBOS uses the server's; say if they differ."""
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute("SHOW synchronous_commit").fetchone()
    setting = row[0] if row else "unknown"
    if setting == "on":
        return None
    return (
        f"the server runs synchronous_commit={setting}: DBOS's commits are not durable "
        "while the floor's are, so the Postgres ratios flatter DBOS."
    )


def log(target: str, message: str) -> None:
    print(f"[{target}] {message}", flush=True)


def _run_scenarios(
    target: Target, plan: Plan, floors: FloorSeries, out_dir: Path, top: int
) -> BackendReport:
    name = target.name
    # The system database gets the same treatment as the floor: written past its first WAL
    # checkpoint before anything is timed (see SQLiteFloor.warmup_commits).
    warm_long_workflow(plan.system_db_warmup_steps)
    floors.sample()
    before = floors.latest_us
    timing = sequential_workflows(plan.sequential, plan.sequential_warmup)
    sequential = Bracketed(timing, before, floors.sample().us_per_commit)
    log(name, f"A: {timing.us_per_unit:,.1f} us/workflow (floor {sequential.floor_us:,.1f} us)")

    warm_long_workflow(plan.long_warmup_steps)
    runs: list[Bracketed] = []
    for _ in range(plan.long_runs):
        before = floors.latest_us
        timing = long_workflow_run(plan.long_steps)
        runs.append(Bracketed(timing, before, floors.sample().us_per_commit))
        log(name, f"B: {timing.us_per_unit:,.1f} us/step (floor {runs[-1].floor_us:,.1f} us)")

    in_flight = workflows_in_flight(
        plan.in_flight_width, plan.in_flight_rounds, plan.in_flight_warmup_rounds
    )
    floors.sample()
    log(name, f"C: {in_flight.timing.units_per_second:,.0f} workflows/s")

    seam = measure_seam(steps=plan.long_steps)
    profiles: list[ProfileResult] = []
    for kind in ("wall", "cpu"):
        result = profile_long_workflow(plan.long_steps, out_dir, name, kind, top)
        profiles.append(result)
        log(name, f"profile ({kind} clock) written to {result.path}")
    floors.sample()
    log(name, f"floor: median {median_us(floors.samples):,.1f} us/commit")
    return BackendReport(
        backend=name,
        setting=target.setting,
        floors=tuple(floors.samples),
        sequential=sequential,
        long=LongWorkflowResult(tuple(runs)),
        in_flight=in_flight,
        profiles=tuple(profiles),
        seam=seam,
    )


def run_backend(target: Target, plan: Plan, out_dir: Path, top: int) -> BackendReport:
    """Launch DBOS on ``target``, run every benchmark, and leave DBOS destroyed."""
    DBOS(config=target.config)
    DBOS.reset_system_database()
    DBOS.launch()
    try:
        # Opened after launch: on Postgres the floor table lives in the database that
        # launch has just created.
        probe = target.open_floor()
        with FloorSeries(probe, plan.floor_commits_per_sample) as floors:
            return _run_scenarios(target, plan, floors, out_dir, top)
    finally:
        # Without destroy_registry: the workload stays registered for the next backend.
        DBOS.destroy()
