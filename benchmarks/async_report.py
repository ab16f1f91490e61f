"""The async suite's summary table and JSON record (see async_scenarios for what is measured)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from async_scenarios import AsyncReport, FanOutResult
from profiling import CATEGORIES, ProfileResult

# The target for the async twin, printed beside the number it judges (never asserted).
ASYNC_RATIO_TARGET = 1.3

Row = tuple[str, Callable[[AsyncReport], str]]


def _kinds(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {n}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def _fan_out_rows(read: Callable[[AsyncReport], FanOutResult]) -> list[Row]:
    return [
        ("completed / waiting at once",
         lambda r: f"{read(r).completed:,} / {read(r).in_flight:,}"),
        ("wall s (all started after)",
         lambda r: f"{read(r).wall_seconds:.2f} ({read(r).start_seconds:.2f})"),
        ("process CPU s", lambda r: f"{read(r).cpu_seconds:.2f}"),
        ("threads alive: before -> peak",
         lambda r: f"{read(r).threads_before} -> {read(r).threads_peak}"),
    ]  # fmt: skip


def _profile(r: AsyncReport, twin: int) -> ProfileResult:
    return r.profiles[twin]


def _sections() -> list[tuple[str, list[Row]]]:
    return [
        ("D: sequential 3-step workflows, async twin vs sync", [
            ("workflows per twin (blocks x size)",
             lambda r: f"{r.twins.sync.units:,} ({len(r.twins.block_ratios)} blocks)"),
            ("sync us/workflow", lambda r: f"{r.twins.sync.us_per_unit:,.1f}"),
            ("async us/workflow", lambda r: f"{r.twins.async_.us_per_unit:,.1f}"),
            (f"ratio async/sync, median block (<= {ASYNC_RATIO_TARGET}x)",
             lambda r: f"{r.twins.median_ratio:.2f}x"),
            ("  block ratios min - max",
             lambda r: f"{min(r.twins.block_ratios):.2f} - {max(r.twins.block_ratios):.2f}"),
            ("us/workflow added by async", lambda r: f"{r.twins.added_us:,.1f}"),
            ("experiment: async, storage inline on loop",
             lambda r: f"{r.twins.inline.us_per_unit:,.1f} us"),
            ("  ratio to sync, median block",
             lambda r: f"{r.twins.inline_median_ratio:.2f}x"),
            ("sync process CPU us/workflow", lambda r: f"{r.twins.sync.cpu_us_per_unit:,.1f}"),
            ("async process CPU us/workflow",
             lambda r: f"{r.twins.async_.cpu_us_per_unit:,.1f}"),
            ("experiment process CPU us/workflow",
             lambda r: f"{r.twins.inline.cpu_us_per_unit:,.1f}"),
            ("storage handoffs per async workflow",
             lambda r: f"{r.twins.handoffs_per_workflow:.1f}"),
            ("storage handoff round trip us (idle loop)", lambda r: f"{r.twins.handoff_us:,.1f}"),
            ("  handoffs x round trip, us/workflow",
             lambda r: f"{r.twins.handoff_total_us:,.1f}"),
        ]),
        ("D under cProfile (wall, calling thread), tottime us/workflow", [
            *[(f"sync:  {c}", lambda r, c=c: f"{_profile(r, 0).us_per_step(c):,.1f}")
              for c in CATEGORIES],
            *[(f"async: {c}", lambda r, c=c: f"{_profile(r, 1).us_per_step(c):,.1f}")
              for c in CATEGORIES],
            ("async:   of which loop idle in poll",
             lambda r: f"{_profile(r, 1).loop_wait_us_per_step:,.1f}"),
        ]),
        ("E: async workflows each awaiting sleep_async", [
            ("max_executor_threads", lambda r: str(r.executor_threads)),
            *_fan_out_rows(lambda r: r.sleepers),
        ]),
        ("F: async parents each awaiting one sleeping child", _fan_out_rows(lambda r: r.parents)),
    ]  # fmt: skip


def summary_table(reports: Sequence[AsyncReport]) -> str:
    """One column per backend; thread kinds at the peak are listed under the table."""
    label_width, col_width = 46, 26
    header = "".ljust(label_width) + "".join(r.backend.rjust(col_width) for r in reports)
    lines = [header, "=" * len(header)]
    for title, rows in _sections():
        lines.append(title)
        for label, cell in rows:
            values = "".join(cell(r).rjust(col_width) for r in reports)
            lines.append(f"  {label}".ljust(label_width) + values)
        lines.append("")
    for r in reports:
        lines.append(f"{r.backend}: threads at the peak, E: {_kinds(r.sleepers.threads_at_peak)}")
        lines.append(f"{r.backend}: threads at the peak, F: {_kinds(r.parents.threads_at_peak)}")
    return "\n".join(lines)


def _fan_out_dict(f: FanOutResult) -> dict[str, Any]:
    return {
        "started": f.started,
        "in_flight": f.in_flight,
        "completed": f.completed,
        "start_seconds": f.start_seconds,
        "wall_seconds": f.wall_seconds,
        "cpu_seconds": f.cpu_seconds,
        "threads_before": f.threads_before,
        "threads_peak": f.threads_peak,
        "threads_at_peak": f.threads_at_peak,
    }


def to_json(r: AsyncReport) -> dict[str, Any]:
    twins = r.twins
    return {
        "backend": r.backend,
        "executor_threads": r.executor_threads,
        "d_sync_us_per_workflow": twins.sync.us_per_unit,
        "d_async_us_per_workflow": twins.async_.us_per_unit,
        "d_inline_experiment_us_per_workflow": twins.inline.us_per_unit,
        "d_inline_experiment_median_ratio": twins.inline_median_ratio,
        "d_inline_experiment_cpu_us_per_workflow": twins.inline.cpu_us_per_unit,
        "d_median_ratio": twins.median_ratio,
        "d_block_ratios": list(twins.block_ratios),
        "d_sync_cpu_us_per_workflow": twins.sync.cpu_us_per_unit,
        "d_async_cpu_us_per_workflow": twins.async_.cpu_us_per_unit,
        "d_handoffs_per_workflow": twins.handoffs_per_workflow,
        "d_handoff_us": twins.handoff_us,
        "d_profiles": {
            ("sync" if i == 0 else "async"): {
                "path": str(p.path),
                "us_per_workflow": {c: p.us_per_step(c) for c in CATEGORIES},
                "loop_wait_us_per_workflow": p.loop_wait_us_per_step,
            }
            for i, p in enumerate(r.profiles)
        },
        "e_sleepers": _fan_out_dict(r.sleepers),
        "f_parents": _fan_out_dict(r.parents),
    }


def write_json(reports: Sequence[AsyncReport], path: Path) -> None:
    path.write_text(json.dumps([to_json(r) for r in reports], indent=2) + "\n")


def print_profiles(reports: Sequence[AsyncReport]) -> None:
    for r in reports:
        for twin, profile in zip(("sync", "async"), r.profiles, strict=True):
            print(f"\n--- {r.backend}: D's {twin} twin under cProfile (wall clock), by tottime ---")
            print(profile.top_table)
