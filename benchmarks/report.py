"""Turns one run's measurements into the summary table and a JSON record.

All ratio arithmetic lives here, once, so the README's "how to read the ratio" and the
printed numbers cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from floor import FloorResult
from profiling import CATEGORIES, ProfileResult
from scenarios import InFlightResult, LongWorkflowResult, Timing
from storage_calls import CallCounts
from workload import COMMITS_PER_WORKFLOW, STEPS_PER_WORKFLOW

# The targets, printed beside the numbers they judge (never asserted).
STEP_RATIO_TARGET = 1.5
CPU_US_PER_STEP_TARGET = 150.0


@dataclass(frozen=True)
class BackendReport:
    """Everything measured on one backend in one run."""

    backend: str
    setting: str  # the durability setting both the floor and DBOS ran with
    floor_before: FloorResult
    floor_after: FloorResult
    sequential: Timing
    long: LongWorkflowResult
    in_flight: InFlightResult
    profiles: tuple[ProfileResult, ...]
    calls: dict[str, CallCounts] | None

    @property
    def floor_us(self) -> float:
        # Measured before and after the scenarios: the mean of the two brackets the disk's
        # state while the scenarios ran, and their difference shows how much it drifted.
        return (self.floor_before.us_per_commit + self.floor_after.us_per_commit) / 2

    @property
    def floor_drift_percent(self) -> float:
        before, after = self.floor_before.us_per_commit, self.floor_after.us_per_commit
        return (after - before) / before * 100

    @property
    def floor_cpu_us(self) -> float:
        return (self.floor_before.cpu_us_per_commit + self.floor_after.cpu_us_per_commit) / 2

    @property
    def workflow_ratio_per_commit(self) -> float:
        """Time per 3-step workflow over the floor time of the commits it needs."""
        return self.sequential.us_per_unit / (self.floor_us * COMMITS_PER_WORKFLOW)

    @property
    def workflow_ratio_single(self) -> float:
        return self.sequential.us_per_unit / self.floor_us

    @property
    def step_ratio(self) -> float:
        return self.long.median.us_per_unit / self.floor_us

    @property
    def cpu_us_per_step(self) -> float:
        return self.long.median.cpu_us_per_unit

    def profile(self, kind: str) -> ProfileResult | None:
        return next((p for p in self.profiles if p.kind == kind), None)


Row = tuple[str, Callable[[BackendReport], str]]


def _profile_cell(kind: str, category: str) -> Callable[[BackendReport], str]:
    def cell(r: BackendReport) -> str:
        p = r.profile(kind)
        return "n/a" if p is None else f"{p.us_per_step(category):,.1f}"

    return cell


def _calls_cell(key: str) -> Callable[[BackendReport], str]:
    def cell(r: BackendReport) -> str:
        if r.calls is None or key not in r.calls:
            return "n/a"
        return r.calls[key].describe()

    return cell


def _sections() -> list[tuple[str, list[Row]]]:
    wf = f"{STEPS_PER_WORKFLOW}-step"
    return [
        ("Floor: raw driver, 1-row INSERT + COMMIT", [
            ("durability setting", lambda r: r.setting),
            ("commits/s", lambda r: f"{1e6 / r.floor_us:,.0f}"),
            ("us/commit (mean of before, after)", lambda r: f"{r.floor_us:,.1f}"),
            ("  drift after vs before", lambda r: f"{r.floor_drift_percent:+.0f}%"),
            ("CPU us/commit (client side)", lambda r: f"{r.floor_cpu_us:,.1f}"),
        ]),
        (f"A: sequential {wf} workflows", [
            ("workflows/s", lambda r: f"{r.sequential.units_per_second:,.0f}"),
            ("us/workflow", lambda r: f"{r.sequential.us_per_unit:,.1f}"),
            (f"ratio / (floor x {COMMITS_PER_WORKFLOW} commits)",
             lambda r: f"{r.workflow_ratio_per_commit:.2f}x"),
            ("ratio / floor (1 commit)", lambda r: f"{r.workflow_ratio_single:.2f}x"),
            ("CPU us/workflow", lambda r: f"{r.sequential.cpu_us_per_unit:,.1f}"),
        ]),
        ("B: one workflow of N trivial steps", [
            ("steps per run x runs", lambda r: f"{r.long.median.units} x {len(r.long.repetitions)}"),
            ("steps/s (median run)", lambda r: f"{r.long.median.units_per_second:,.0f}"),
            ("us/step", lambda r: f"{r.long.median.us_per_unit:,.1f}"),
            (f"ratio us/step / floor (target <= {STEP_RATIO_TARGET}x)",
             lambda r: f"{r.step_ratio:.2f}x"),
            ("  spread across runs", lambda r: f"{r.long.spread_percent:.0f}%"),
            (f"CPU us/step (target < {CPU_US_PER_STEP_TARGET:.0f})",
             lambda r: f"{r.cpu_us_per_step:,.1f}"),
            ("  CPU us/step above floor CPU/commit",
             lambda r: f"{r.cpu_us_per_step - r.floor_cpu_us:,.1f}"),
        ]),
        ("C: workflows in flight", [
            ("in flight x rounds", lambda r: f"{r.in_flight.width} x {r.in_flight.rounds}"),
            ("workflows/s", lambda r: f"{r.in_flight.timing.units_per_second:,.0f}"),
            ("steps/s", lambda r: f"{r.in_flight.steps_per_second:,.0f}"),
            ("CPU us/workflow", lambda r: f"{r.in_flight.timing.cpu_us_per_unit:,.1f}"),
        ]),
        ("Storage calls (counted in an untimed run)", [
            (f"per {wf} workflow", _calls_cell(f"per {STEPS_PER_WORKFLOW}-step workflow")),
            ("per step (long workflow)", _calls_cell("per step (1 long workflow)")),
        ]),
        ("B under cProfile, tottime us/step by layer", [
            *[(f"wall: {c}", _profile_cell("wall", c)) for c in CATEGORIES],
            *[(f"cpu:  {c}", _profile_cell("cpu", c)) for c in CATEGORIES],
        ]),
    ]  # fmt: skip


def summary_table(reports: Sequence[BackendReport]) -> str:
    """One column per backend, one row per number; section titles between groups."""
    label_width = 46
    col_width = max(30, *(len(r.setting) + 2 for r in reports))
    header = "".ljust(label_width) + "".join(r.backend.rjust(col_width) for r in reports)
    lines = [header, "=" * len(header)]
    for title, rows in _sections():
        lines.append(title)
        for label, cell in rows:
            values = "".join(cell(r).rjust(col_width) for r in reports)
            lines.append(f"  {label}".ljust(label_width) + values)
        lines.append("")
    return "\n".join(lines)


def _timing_dict(t: Timing) -> dict[str, float]:
    return {
        "units": t.units,
        "wall_seconds": t.wall_seconds,
        "cpu_seconds": t.cpu_seconds,
        "us_per_unit": t.us_per_unit,
        "cpu_us_per_unit": t.cpu_us_per_unit,
    }


def to_json(report: BackendReport) -> dict[str, Any]:
    """A flat record for comparing runs over time (e.g. before and after an optimisation)."""
    return {
        "backend": report.backend,
        "setting": report.setting,
        "floor_us_per_commit": report.floor_us,
        "floor_before_us": report.floor_before.us_per_commit,
        "floor_after_us": report.floor_after.us_per_commit,
        "floor_cpu_us_per_commit": report.floor_cpu_us,
        "a_sequential": _timing_dict(report.sequential),
        "a_ratio_per_commit": report.workflow_ratio_per_commit,
        "a_ratio_single": report.workflow_ratio_single,
        "b_long_runs": [_timing_dict(t) for t in report.long.repetitions],
        "b_us_per_step": report.long.median.us_per_unit,
        "b_ratio": report.step_ratio,
        "b_cpu_us_per_step": report.cpu_us_per_step,
        "c_in_flight": _timing_dict(report.in_flight.timing),
        "c_width": report.in_flight.width,
        "c_steps_per_second": report.in_flight.steps_per_second,
        "calls": None
        if report.calls is None
        else {k: {"reads": v.reads, "commits": v.commits} for k, v in report.calls.items()},
        "profiles": {
            p.kind: {"path": str(p.path), "us_per_step": {c: p.us_per_step(c) for c in CATEGORIES}}
            for p in report.profiles
        },
    }


def write_json(reports: Sequence[BackendReport], path: Path) -> None:
    path.write_text(json.dumps([to_json(r) for r in reports], indent=2) + "\n")
