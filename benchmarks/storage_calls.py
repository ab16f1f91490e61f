"""Counts and times the calls a workflow makes across the storage seam (the Backend).

Two questions the scenario timings cannot answer on their own:

- Does the code issue the commits the ratios assume (5 per 3-step workflow, 1 per step)?
  The counts show what the code does rather than what the ratio assumes.
- Of the time per step, how much is spent inside storage calls (driver, network, fsync,
  and our backend code) and how much in the runtime around them? Timing at the seam, in an
  unprofiled run, answers this without cProfile's per-call inflation.

Both come from wrapping the launched runtime's backend methods for one untimed run. That
reaches into private modules (``dbos._api.state``), which a benchmark may do and the
library's edges may not. Those internals are being refactored concurrently, so every
lookup fails soft: if the shape changes, this section reads "n/a" and nothing else breaks.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from workload import many_steps, three_steps

# A write or a transaction is one commit; a read is a round trip on Postgres and an
# in-process call on SQLite.
_METHODS = ("read_one", "read_all", "read_rows", "write_one", "transact")
_COMMITTING = ("write_one", "transact")


@dataclass(frozen=True)
class CallCounts:
    """Backend calls per unit (per workflow or per step)."""

    reads: float
    commits: float

    def describe(self) -> str:
        return f"{self.commits:.2f} commits + {self.reads:.2f} reads"


@dataclass(frozen=True)
class SeamSplit:
    """One long workflow's time, split at the storage seam (thread CPU, this thread only)."""

    steps: int
    wall_seconds: float
    cpu_seconds: float
    storage_wall_seconds: float
    storage_cpu_seconds: float

    def per_step_us(self, seconds: float) -> float:
        return seconds / self.steps * 1e6

    @property
    def outside_wall_us(self) -> float:
        return self.per_step_us(self.wall_seconds - self.storage_wall_seconds)

    @property
    def outside_cpu_us(self) -> float:
        return self.per_step_us(self.cpu_seconds - self.storage_cpu_seconds)


@dataclass(frozen=True)
class SeamReport:
    per_workflow: CallCounts
    per_step: CallCounts
    split: SeamSplit


@dataclass
class _Tally:
    counts: Counter[str] = field(default_factory=Counter)
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    depth: int = 0


def _backend() -> Any | None:
    try:
        from dbos._api.state import state
    except ImportError:
        return None
    runtime = getattr(state, "runtime", None)
    db = getattr(runtime, "db", None)
    return getattr(db, "backend", None)


def _wrap(fn: Callable[..., Any], name: str, tally: _Tally, owner: int) -> Callable[..., Any]:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        # Only the benchmark's own thread is measured: the queue runner polls the same
        # backend from its thread. Nested calls are part of the outer call's time.
        if tally.depth or threading.get_ident() != owner:
            return fn(*args, **kwargs)
        tally.counts[name] += 1
        tally.depth += 1
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            tally.wall_seconds += time.perf_counter() - wall
            tally.cpu_seconds += time.thread_time() - cpu
            tally.depth -= 1

    return wrapped


@contextmanager
def _instrumented(backend: Any) -> Iterator[_Tally]:
    tally = _Tally()
    owner = threading.get_ident()
    wrapped: list[str] = []
    for name in _METHODS:
        original = getattr(backend, name, None)
        if original is not None:
            # An instance attribute shadows the class method for every store holding it.
            setattr(backend, name, _wrap(original, name, tally, owner))
            wrapped.append(name)
    try:
        yield tally
    finally:
        for name in wrapped:
            delattr(backend, name)


def _per_unit(counts: Counter[str], units: int) -> CallCounts:
    commits = sum(counts[m] for m in _COMMITTING)
    reads = sum(counts[m] for m in _METHODS if m not in _COMMITTING)
    return CallCounts(reads / units, commits / units)


def _split_one_run(backend: Any, steps: int) -> tuple[SeamSplit, Counter[str]]:
    with _instrumented(backend) as tally:
        wall, cpu = time.perf_counter(), time.thread_time()
        many_steps(steps)
        wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    return SeamSplit(steps, wall, cpu, tally.wall_seconds, tally.cpu_seconds), tally.counts


def measure_seam(workflows: int = 50, steps: int = 1000, runs: int = 3) -> SeamReport | None:
    """Calls per 3-step workflow, and calls and time split per step of a long workflow.

    The split is taken from the median of ``runs`` runs by wall time, as scenario B is.
    None when the backend cannot be found through the private path.
    """
    backend = _backend()
    if backend is None:
        return None
    with _instrumented(backend) as tally:
        for i in range(workflows):
            three_steps(i)
    per_workflow = _per_unit(tally.counts, workflows)
    results = sorted(
        (_split_one_run(backend, steps) for _ in range(runs)), key=lambda r: r[0].wall_seconds
    )
    split, counts = results[len(results) // 2]
    # The long workflow's own insert and outcome are spread over its steps, as in scenario B.
    return SeamReport(per_workflow, _per_unit(counts, steps), split)
