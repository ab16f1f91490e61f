"""Counts the storage round trips a workflow makes, to check the commit arithmetic.

The ratios assume a 3-step workflow needs 5 commits and a step needs 1. This module wraps
the launched runtime's backend methods for one untimed run and counts the calls, so the
report shows what the code does rather than what the ratio assumes.

It reaches into private modules (``dbos._api.state``), which a benchmark may do and the
library's edges may not. Those internals are being refactored concurrently, so every
lookup fails soft: if the shape changes, the counts read "n/a" and nothing else breaks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from workload import STEPS_PER_WORKFLOW, many_steps, three_steps

# Backend methods and what each costs: a write or a transaction is one commit; reads on
# Postgres are a round trip each, on SQLite an in-process call.
_METHODS = ("read_one", "read_all", "write_one", "transact")
_COMMITTING = ("write_one", "transact")


@dataclass(frozen=True)
class CallCounts:
    """Backend calls per unit (per workflow or per step)."""

    reads: float
    commits: float

    def describe(self) -> str:
        return f"{self.commits:.2f} commits + {self.reads:.2f} reads"


def _backend() -> Any | None:
    try:
        from dbos._api.state import state
    except ImportError:
        return None
    runtime = getattr(state, "runtime", None)
    db = getattr(runtime, "db", None)
    return getattr(db, "backend", None)


@contextmanager
def _counting(backend: Any) -> Iterator[Counter[str]]:
    counts: Counter[str] = Counter()
    originals: dict[str, Callable[..., Any]] = {}
    for name in _METHODS:
        original = getattr(backend, name, None)
        if original is None:
            continue
        originals[name] = original

        def counted(*args: Any, _name: str = name, _fn: Any = original, **kwargs: Any) -> Any:
            counts[_name] += 1
            return _fn(*args, **kwargs)

        # An instance attribute shadows the class method for every store holding the backend.
        setattr(backend, name, counted)
    try:
        yield counts
    finally:
        for name in originals:
            delattr(backend, name)


def _per_unit(counts: Counter[str], units: int) -> CallCounts:
    commits = sum(counts[m] for m in _COMMITTING)
    reads = sum(counts[m] for m in _METHODS if m not in _COMMITTING)
    return CallCounts(reads / units, commits / units)


def count_calls(workflows: int = 20, steps: int = 200) -> dict[str, CallCounts] | None:
    """Calls per 3-step workflow (scenario A) and per step of a long workflow (scenario B).

    None when the backend cannot be found through the private path.
    """
    backend = _backend()
    if backend is None:
        return None
    with _counting(backend) as counts:
        for i in range(workflows):
            three_steps(i)
    per_workflow = _per_unit(counts, workflows)
    with _counting(backend) as counts:
        many_steps(steps)
    # The long workflow's own insert and outcome are spread over its steps, as in scenario B.
    per_step = _per_unit(counts, steps)
    return {
        f"per {STEPS_PER_WORKFLOW}-step workflow": per_workflow,
        "per step (1 long workflow)": per_step,
    }
