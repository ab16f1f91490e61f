"""What the queue suite measures: one record per scenario and run, and the session's report."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field

from floor import FloorResult, median_us, range_text
from scenarios import Bracketed

# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class ThroughputRun:
    """N workflows enqueued one after another, then every result awaited."""

    enqueue: Bracketed  # the enqueue loop, with the floor sampled around the whole run
    completion_seconds: float  # first enqueue to the last row's completed_at
    results_seconds: float  # first enqueue to every result in hand
    cpu_seconds: float  # this process, first enqueue to the last result
    completed: int  # SUCCESS with the expected result
    by_executor: dict[str, int]
    # Other processes over the same span ("workers", "server"), where measured.
    other_cpu_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def workflows(self) -> int:
        return self.enqueue.timing.units

    @property
    def workflows_per_second(self) -> float:
        return self.workflows / self.completion_seconds

    @property
    def enqueues_per_second(self) -> float:
        return self.enqueue.timing.units_per_second


@dataclass(frozen=True)
class Throughput:
    """One scenario's runs; the headline is the median run."""

    runs: tuple[ThroughputRun, ...]

    def _median_run(self) -> ThroughputRun:
        ordered = sorted(self.runs, key=lambda r: r.workflows_per_second)
        return ordered[len(ordered) // 2]

    @property
    def workflows_per_second(self) -> float:
        return statistics.median(r.workflows_per_second for r in self.runs)

    @property
    def range(self) -> str:
        rates = [r.workflows_per_second for r in self.runs]
        return f"{min(rates):,.0f} - {max(rates):,.0f}"

    @property
    def enqueues_per_second(self) -> float:
        return statistics.median(r.enqueues_per_second for r in self.runs)

    @property
    def enqueue_ratio(self) -> float:
        """us per enqueue over floor us per commit (floor commits/s over enqueues/s)."""
        return statistics.median(r.enqueue.ratio() for r in self.runs)

    @property
    def floor_us(self) -> float:
        return statistics.median(r.enqueue.floor_us for r in self.runs)

    @property
    def completed(self) -> str:
        return f"{sum(r.completed for r in self.runs):,} / {sum(r.workflows for r in self.runs):,}"

    @property
    def results_seconds(self) -> float:
        return self._median_run().results_seconds

    @property
    def completion_seconds(self) -> float:
        return self._median_run().completion_seconds

    @property
    def enqueue_seconds(self) -> float:
        return self._median_run().enqueue.timing.wall_seconds

    @property
    def cpu_us_per_workflow(self) -> float:
        return statistics.median(r.cpu_seconds / r.workflows * 1e6 for r in self.runs)

    def other_cpu_us_per_workflow(self, kind: str) -> float | None:
        """CPU per workflow of the worker processes or of the server (None: not measured)."""
        if not all(kind in r.other_cpu_seconds for r in self.runs):
            return None
        return statistics.median(r.other_cpu_seconds[kind] / r.workflows * 1e6 for r in self.runs)

    @property
    def by_executor(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for r in self.runs:
            total.update(r.by_executor)
        return dict(total)


@dataclass(frozen=True)
class EnqueueOnly:
    """The enqueue loop alone, onto a queue nobody serves."""

    runs: tuple[Bracketed, ...]

    @property
    def enqueues_per_second(self) -> float:
        return statistics.median(b.timing.units_per_second for b in self.runs)

    @property
    def ratio(self) -> float:
        return statistics.median(b.ratio() for b in self.runs)

    @property
    def floor_us(self) -> float:
        return statistics.median(b.floor_us for b in self.runs)

    @property
    def cpu_us_per_enqueue(self) -> float:
        return statistics.median(b.timing.cpu_us_per_unit for b in self.runs)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with ``fraction`` of them at or below it."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@dataclass(frozen=True)
class Latency:
    """Enqueue-to-start latencies, in seconds, one workflow at a time."""

    where: str  # who served the queue
    planned: int  # samples planned; fewer were taken if the run hit its time budget
    samples: tuple[float, ...]
    enqueue_call_seconds: tuple[float, ...]  # how long each enqueue call itself took

    def ms(self, fraction: float) -> float:
        return percentile(list(self.samples), fraction) * 1e3

    @property
    def enqueue_call_p50_ms(self) -> float:
        return percentile(list(self.enqueue_call_seconds), 0.5) * 1e3


@dataclass(frozen=True)
class SeamCounts:
    """Backend calls per Q1 workflow, all threads of this process, by thread kind."""

    workflows: int
    commits: dict[str, int]
    reads: dict[str, int]
    claims: int  # claim statements, on every served queue, empty ones included
    runner_passes: int  # queue-runner passes, each claiming from the queues with new work

    def per_workflow(self, counts: dict[str, int]) -> float:
        return sum(counts.values()) / self.workflows

    def describe(self, kind: str) -> str:
        c = self.commits.get(kind, 0) / self.workflows
        r = self.reads.get(kind, 0) / self.workflows
        return f"{c:.2f} commits + {r:.2f} reads"


@dataclass(frozen=True)
class RunnerProbe:
    """What one wake-up of an idle queue runner costs, and the table it searches."""

    rows: int | None  # rows in workflow_status
    pass_ms: float | None  # one run_once with nothing to claim (median); None if moved
    served_queues: int  # DBOS's internal queue included


@dataclass(frozen=True)
class QueueReport:
    backend: str
    setting: str
    floors: tuple[FloorResult, ...]
    default_queue: Throughput  # Q1
    worker_16: Throughput  # Q2
    enqueue_only: EnqueueOnly
    local_latency: Latency  # Q4, served by this process
    seam: SeamCounts | None
    probe_start: RunnerProbe  # before Q1's first run
    probe_end: RunnerProbe  # after the last scenario
    workers: Throughput | None = None  # Q3 (Postgres)
    workers_threaded: Throughput | None = None  # Q3, enqueued from several threads
    worker_count: int = 0
    remote_latency: Latency | None = None  # Q4, served by a worker process (Postgres)

    @property
    def floor_us(self) -> float:
        return median_us(list(self.floors))

    @property
    def floor_range(self) -> str:
        return range_text(list(self.floors))
