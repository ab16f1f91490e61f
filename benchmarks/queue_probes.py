"""Untimed probes of the queue suite: storage calls by thread, and the idle runner pass."""

from __future__ import annotations

import sqlite3
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from dbos import DBOSConfig
from queue_results import RunnerProbe

# ---------------------------------------------------------------- storage calls, all threads

_COMMITTING = ("write_one", "transact")
_READING = ("read_one", "read_all")


def _thread_kind(name: str) -> str:
    if name == "MainThread":
        return "enqueuer"
    if name == "bench-wait":
        return "waiter"
    if "queue-runner" in name:
        return "queue runner"
    if "executor" in name or name.startswith("ThreadPoolExecutor"):
        return "workflows"
    return "other"


def system_backend() -> Any | None:
    """The launched runtime's storage backend, through private modules; None if moved."""
    try:
        from dbos._api.state import state
    except ImportError:
        return None
    return getattr(getattr(getattr(state, "runtime", None), "db", None), "backend", None)


@contextmanager
def counting_calls(backend: Any) -> Iterator[tuple[Counter[str], Counter[str]]]:
    """Count backend calls from every thread, by thread kind; nested calls count once."""
    commits: Counter[str] = Counter()
    reads: Counter[str] = Counter()
    lock = threading.Lock()
    depth = threading.local()

    def wrap(fn: Callable[..., Any], tally: Counter[str]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            level = getattr(depth, "level", 0)
            if level == 0:
                with lock:
                    tally[_thread_kind(threading.current_thread().name)] += 1
            depth.level = level + 1
            try:
                return fn(*args, **kwargs)
            finally:
                depth.level = level

        return wrapped

    wrapped: list[str] = []
    for name in _COMMITTING + _READING:
        original = getattr(backend, name, None)
        if original is not None:
            setattr(backend, name, wrap(original, commits if name in _COMMITTING else reads))
            wrapped.append(name)
    try:
        yield commits, reads
    finally:
        for name in wrapped:
            delattr(backend, name)


@contextmanager
def counting_runner_passes() -> Iterator[list[int]]:
    """Count queue-runner passes and claims, through private modules.

    A pass is ``_pass`` (what a wake-up or a poll runs), or ``run_once`` in older builds.
    """
    counts = [0, 0]
    try:
        from dbos._services.queue_runner import QueueRunnerService
        from dbos._storage.queues import QueueStore
    except ImportError:
        yield counts
        return
    method = "_pass" if hasattr(QueueRunnerService, "_pass") else "run_once"
    real_pass, real_claim = getattr(QueueRunnerService, method), QueueStore.claim

    def counted_pass(self: Any) -> bool:
        counts[0] += 1
        return bool(real_pass(self))

    def claim(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts[1] += 1
        return real_claim(self, *args, **kwargs)

    setattr(QueueRunnerService, method, counted_pass)
    QueueStore.claim = claim  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        setattr(QueueRunnerService, method, real_pass)
        QueueStore.claim = real_claim  # type: ignore[method-assign]


# ---------------------------------------------------------------- the idle runner's pass


def count_rows(config: DBOSConfig) -> int | None:
    """Rows in the system database's workflow_status, over a connection of our own."""
    url = config.get("system_database_url") or ""
    try:
        if url.startswith("sqlite:///"):
            conn = sqlite3.connect(url.removeprefix("sqlite:///"))
            try:
                row = conn.execute("SELECT count(*) FROM workflow_status").fetchone()
            finally:
                conn.close()
        else:
            schema = config.get("dbos_system_schema") or "dbos"
            with psycopg.connect(url, autocommit=True) as pg:
                query = sql.SQL("SELECT count(*) FROM {}.workflow_status")
                row = pg.execute(query.format(sql.Identifier(schema))).fetchone()
    except (sqlite3.Error, psycopg.Error):
        return None
    return None if row is None else int(row[0])


def _runner() -> Any | None:
    """The launched instance's queue runner, through private modules; None if moved."""
    try:
        from dbos._api.state import state
    except ImportError:
        return None
    runner = getattr(state.instance, "_queue_runner", None)
    return runner if callable(getattr(runner, "run_once", None)) else None


def probe_runner(config: DBOSConfig, samples: int) -> RunnerProbe:
    """Time an idle runner's pass (run_once, with nothing to claim), called from here.

    Every local enqueue, and on Postgres every notification, wakes the runner for one such
    pass: promote due delayed rows, read the versions, one claim per served queue.
    """
    from dbos._api.state import state

    rt = state.runtime
    served = len(rt.queue_catalog.served()) if rt is not None else 0
    runner = _runner()
    pass_ms: float | None = None
    if runner is not None:
        durations = []
        for _ in range(samples):
            started = time.perf_counter()
            runner.run_once()
            durations.append(time.perf_counter() - started)
        pass_ms = statistics.median(durations) * 1e3
    return RunnerProbe(count_rows(config), pass_ms, served)
