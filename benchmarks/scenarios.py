"""The timed scenarios, run against whichever backend DBOS was launched on.

Each scenario warms up first (connections, prepared statements, per-thread SQLite readers,
the WAL file's working size), then times the measured part with both the wall clock and
the process CPU clock. Nothing here asserts on a time: benchmarks report, tests decide.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from workload import STEPS_PER_WORKFLOW, many_steps, three_steps

from dbos import DBOS


@dataclass(frozen=True)
class Timing:
    """``units`` (workflows or steps) took ``wall_seconds`` and ``cpu_seconds`` of process CPU.

    The CPU clock is process-wide, so it includes DBOS's background threads and, on SQLite,
    the SQLite engine itself, which runs in-process.
    """

    units: int
    wall_seconds: float
    cpu_seconds: float

    @property
    def us_per_unit(self) -> float:
        return self.wall_seconds / self.units * 1e6

    @property
    def units_per_second(self) -> float:
        return self.units / self.wall_seconds

    @property
    def cpu_us_per_unit(self) -> float:
        return self.cpu_seconds / self.units * 1e6


@dataclass(frozen=True)
class LongWorkflowResult:
    """Scenario B: every repetition, and the median one that the report quotes."""

    repetitions: tuple[Timing, ...]

    @property
    def median(self) -> Timing:
        # The median repetition, not the mean: one repetition that met a WAL checkpoint or a
        # noisy neighbour should not move the headline number.
        ordered = sorted(self.repetitions, key=lambda t: t.wall_seconds)
        return ordered[len(ordered) // 2]

    @property
    def spread_percent(self) -> float:
        walls = [t.wall_seconds for t in self.repetitions]
        if len(walls) < 2:
            return 0.0
        return (max(walls) - min(walls)) / statistics.median(walls) * 100


@dataclass(frozen=True)
class InFlightResult:
    """Scenario C: ``width`` workflows at a time, ``rounds`` times."""

    width: int
    rounds: int
    timing: Timing  # units are workflows

    @property
    def steps_per_second(self) -> float:
        return self.timing.units_per_second * STEPS_PER_WORKFLOW


def _timed(units: int, run: Callable[[], object]) -> Timing:
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return Timing(units, time.perf_counter() - wall, time.process_time() - cpu)


def sequential_workflows(count: int, warmup: int) -> Timing:
    """Scenario A: ``count`` 3-step workflows called directly, one after another."""
    for i in range(warmup):
        three_steps(i)

    def run() -> None:
        for i in range(count):
            three_steps(i)

    return _timed(count, run)


def long_workflow(steps: int, repetitions: int, warmup_steps: int) -> LongWorkflowResult:
    """Scenario B: one workflow of ``steps`` trivial steps, run ``repetitions`` times.

    The two workflow-level commits (status insert and outcome) are included in the time;
    at 1,000 steps they add 0.2% and keep the number honest about a real workflow.
    """
    many_steps(warmup_steps)
    timings = tuple(_timed(steps, lambda: many_steps(steps)) for _ in range(repetitions))
    return LongWorkflowResult(timings)


def _one_round(width: int) -> None:
    handles = [DBOS.start_workflow(three_steps, i) for i in range(width)]
    for handle in handles:
        handle.get_result()


def workflows_in_flight(width: int, rounds: int, warmup_rounds: int) -> InFlightResult:
    """Scenario C: start ``width`` workflows at once, wait for all, ``rounds`` times.

    The warm-up rounds let the executor grow its threads (and, on SQLite, open each
    thread's reader connection) before anything is timed.
    """
    for _ in range(warmup_rounds):
        _one_round(width)

    def run() -> None:
        for _ in range(rounds):
            _one_round(width)

    return InFlightResult(width, rounds, _timed(width * rounds, run))
