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

from floor import FloorResult, median_cpu_us, median_us, range_text
from profiling import CATEGORIES, ProfileResult
from scenarios import Bracketed, InFlightResult, LongWorkflowResult, Timing
from storage_calls import SeamReport
from workload import COMMITS_PER_WORKFLOW, STEPS_PER_WORKFLOW

# The targets, printed beside the numbers they judge (never asserted).
STEP_RATIO_TARGET = 1.5
CPU_US_PER_STEP_TARGET = 150.0


@dataclass(frozen=True)
class BackendReport:
    """Everything measured on one backend in one run."""

    backend: str
    setting: str  # the durability setting both the floor and DBOS ran with
    floors: tuple[FloorResult, ...]  # every floor sample, in the order taken
    sequential: Bracketed
    long: LongWorkflowResult
    in_flight: InFlightResult
    profiles: tuple[ProfileResult, ...]
    seam: SeamReport | None  # None when the private path to the backend has changed

    @property
    def floor_us(self) -> float:
        return median_us(list(self.floors))

    @property
    def floor_range(self) -> str:
        return range_text(list(self.floors))

    @property
    def floor_cpu_us(self) -> float:
        return median_cpu_us(list(self.floors))

    @property
    def workflow_ratio_per_commit(self) -> float:
        """Time per 3-step workflow over the floor time of the commits it needs."""
        return self.sequential.ratio(COMMITS_PER_WORKFLOW)

    @property
    def workflow_ratio_single(self) -> float:
        return self.sequential.ratio()

    @property
    def step_ratio(self) -> float:
        return self.long.median_ratio

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


def _seam_cell(read: Callable[[SeamReport], str]) -> Callable[[BackendReport], str]:
    def cell(r: BackendReport) -> str:
        return "n/a" if r.seam is None else read(r.seam)

    return cell


def _sections() -> list[tuple[str, list[Row]]]:
    wf = f"{STEPS_PER_WORKFLOW}-step"
    return [
        ("Floor: raw driver, 1-row INSERT + COMMIT", [
            ("durability setting", lambda r: r.setting),
            ("samples x commits",
             lambda r: f"{len(r.floors)} x {r.floors[0].commits}"),
            ("commits/s (median sample)", lambda r: f"{1e6 / r.floor_us:,.0f}"),
            ("us/commit (median sample)", lambda r: f"{r.floor_us:,.1f}"),
            ("  range over the run", lambda r: r.floor_range),
            ("CPU us/commit (client process)", lambda r: f"{r.floor_cpu_us:,.1f}"),
        ]),
        (f"A: sequential {wf} workflows", [
            ("workflows/s", lambda r: f"{r.sequential.timing.units_per_second:,.0f}"),
            ("us/workflow", lambda r: f"{r.sequential.timing.us_per_unit:,.1f}"),
            ("  floor us/commit around it", lambda r: f"{r.sequential.floor_us:,.1f}"),
            (f"ratio / (floor x {COMMITS_PER_WORKFLOW} commits)",
             lambda r: f"{r.workflow_ratio_per_commit:.2f}x"),
            ("ratio / floor (1 commit)", lambda r: f"{r.workflow_ratio_single:.2f}x"),
            (f"us/workflow above {COMMITS_PER_WORKFLOW} floor commits",
             lambda r: f"{r.sequential.excess_us(COMMITS_PER_WORKFLOW):,.1f}"),
            ("CPU us/workflow", lambda r: f"{r.sequential.timing.cpu_us_per_unit:,.1f}"),
        ]),
        ("B: one workflow of N trivial steps", [
            ("steps per run x runs",
             lambda r: f"{r.long.median.units} x {len(r.long.runs)}"),
            ("steps/s (median run)", lambda r: f"{r.long.median.units_per_second:,.0f}"),
            ("us/step (median run)", lambda r: f"{r.long.median.us_per_unit:,.1f}"),
            (f"ratio us/step / floor (target <= {STEP_RATIO_TARGET}x)",
             lambda r: f"{r.step_ratio:.2f}x"),
            ("us/step above the floor", lambda r: f"{r.long.median_excess_us:,.1f}"),
            ("  spread across runs", lambda r: f"{r.long.spread_percent:.0f}%"),
            (f"process CPU us/step (target < {CPU_US_PER_STEP_TARGET:.0f})",
             lambda r: f"{r.cpu_us_per_step:,.1f}"),
            ("  minus floor CPU us/commit",
             lambda r: f"{r.cpu_us_per_step - r.floor_cpu_us:,.1f}"),
        ]),
        ("C: workflows in flight", [
            ("in flight x rounds", lambda r: f"{r.in_flight.width} x {r.in_flight.rounds}"),
            ("workflows/s", lambda r: f"{r.in_flight.timing.units_per_second:,.0f}"),
            ("steps/s", lambda r: f"{r.in_flight.steps_per_second:,.0f}"),
            ("CPU us/workflow", lambda r: f"{r.in_flight.timing.cpu_us_per_unit:,.1f}"),
        ]),
        ("Storage seam (untimed, unprofiled; B split: median of 3 runs)", [
            (f"backend calls per {wf} workflow", _seam_cell(lambda s: s.per_workflow.describe())),
            ("backend calls per step", _seam_cell(lambda s: s.per_step.describe())),
            ("wall us/step inside storage calls",
             _seam_cell(lambda s: f"{s.split.per_step_us(s.split.storage_wall_seconds):,.1f}")),
            ("wall us/step outside (runtime)",
             _seam_cell(lambda s: f"{s.split.outside_wall_us:,.1f}")),
            ("CPU us/step inside storage calls",
             _seam_cell(lambda s: f"{s.split.per_step_us(s.split.storage_cpu_seconds):,.1f}")),
            ("CPU us/step outside (runtime)",
             _seam_cell(lambda s: f"{s.split.outside_cpu_us:,.1f}")),
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


def _bracketed_dict(b: Bracketed) -> dict[str, float]:
    return {**_timing_dict(b.timing), "floor_us": b.floor_us, "ratio": b.ratio()}


def _seam_dict(seam: SeamReport) -> dict[str, Any]:
    split = seam.split
    return {
        "per_workflow": {"reads": seam.per_workflow.reads, "commits": seam.per_workflow.commits},
        "per_step": {"reads": seam.per_step.reads, "commits": seam.per_step.commits},
        "storage_wall_us_per_step": split.per_step_us(split.storage_wall_seconds),
        "outside_wall_us_per_step": split.outside_wall_us,
        "storage_cpu_us_per_step": split.per_step_us(split.storage_cpu_seconds),
        "outside_cpu_us_per_step": split.outside_cpu_us,
    }


def to_json(report: BackendReport) -> dict[str, Any]:
    """A flat record for comparing runs over time (e.g. before and after an optimisation)."""
    return {
        "backend": report.backend,
        "setting": report.setting,
        "floor_us_per_commit": report.floor_us,
        "floor_samples_us": [f.us_per_commit for f in report.floors],
        "floor_cpu_us_per_commit": report.floor_cpu_us,
        "a_sequential": _bracketed_dict(report.sequential),
        "a_ratio_per_commit": report.workflow_ratio_per_commit,
        "a_ratio_single": report.workflow_ratio_single,
        "a_us_above_floor_commits": report.sequential.excess_us(COMMITS_PER_WORKFLOW),
        "b_long_runs": [_bracketed_dict(b) for b in report.long.runs],
        "b_us_per_step": report.long.median.us_per_unit,
        "b_ratio": report.step_ratio,
        "b_us_per_step_above_floor": report.long.median_excess_us,
        "b_cpu_us_per_step": report.cpu_us_per_step,
        "c_in_flight": _timing_dict(report.in_flight.timing),
        "c_width": report.in_flight.width,
        "c_steps_per_second": report.in_flight.steps_per_second,
        "seam": None if report.seam is None else _seam_dict(report.seam),
        "profiles": {
            p.kind: {"path": str(p.path), "us_per_step": {c: p.us_per_step(c) for c in CATEGORIES}}
            for p in report.profiles
        },
    }


def write_json(reports: Sequence[BackendReport], path: Path) -> None:
    path.write_text(json.dumps([to_json(r) for r in reports], indent=2) + "\n")
