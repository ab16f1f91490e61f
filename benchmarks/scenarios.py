"""The timed scenarios, run against whichever backend DBOS was launched on.

Each scenario warms up first (connections, prepared statements, per-thread SQLite readers,
the executor's threads), then times the measured part with both the wall clock and the
process CPU clock. Nothing here asserts on a time: benchmarks report, tests decide.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from dbos import DBOS
from workload import STEPS_PER_WORKFLOW, many_steps, three_steps


@dataclass(frozen=True)
class Timing:
    """``units`` (workflows or steps) took ``wall_seconds`` and ``cpu_seconds`` of process CPU.

    The CPU clock is process-wide and counts user and system time, so it includes DBOS's
    background threads, the syscalls of fsync and, on SQLite, the SQLite engine itself,
    which runs in-process.
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
class Bracketed:
    """A timed run with the floor sampled just before and just after it.

    Dividing by the floor of the same minute, rather than one floor for the whole run,
    keeps the ratio honest when the disk or a shared server changes speed mid-run.
    """

    timing: Timing
    floor_before_us: float
    floor_after_us: float

    @property
    def floor_us(self) -> float:
        return (self.floor_before_us + self.floor_after_us) / 2

    def ratio(self, commits_per_unit: int = 1) -> float:
        """Time per unit over the floor time of ``commits_per_unit`` commits."""
        return self.timing.us_per_unit / (self.floor_us * commits_per_unit)

    def excess_us(self, commits_per_unit: int = 1) -> float:
        """Time per unit beyond its commits at floor speed: what DBOS adds, in absolute terms.

        Steadier than the ratio across machines: a faster disk shrinks the floor but not
        the Python around it, so the same code has a higher ratio on a faster disk.
        """
        return self.timing.us_per_unit - self.floor_us * commits_per_unit


@dataclass(frozen=True)
class LongWorkflowResult:
    """Scenario B: every run, each bracketed by floor samples."""

    runs: tuple[Bracketed, ...]

    @property
    def median(self) -> Timing:
        # The median run, not the mean: one run that met a WAL checkpoint or a noisy
        # neighbour should not move the headline number.
        ordered = sorted(self.runs, key=lambda b: b.timing.wall_seconds)
        return ordered[len(ordered) // 2].timing

    @property
    def median_ratio(self) -> float:
        return statistics.median(b.ratio() for b in self.runs)

    @property
    def median_excess_us(self) -> float:
        return statistics.median(b.excess_us() for b in self.runs)

    @property
    def spread_percent(self) -> float:
        walls = [b.timing.wall_seconds for b in self.runs]
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


def timed(units: int, run: Callable[[], object]) -> Timing:
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

    return timed(count, run)


def warm_long_workflow(steps: int) -> None:
    many_steps(steps)


def long_workflow_run(steps: int) -> Timing:
    """Scenario B, one run: a single workflow of ``steps`` trivial steps.

    The workflow's own two commits (status insert and outcome) are inside the time; at
    1,000 steps they add 0.2%, and a real long workflow pays them too.
    """
    return timed(steps, lambda: many_steps(steps))


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

    return InFlightResult(width, rounds, timed(width * rounds, run))
