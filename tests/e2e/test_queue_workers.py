"""Three worker processes share one queue: global concurrency holds across them, every job
runs to completion, and a worker killed with SIGKILL finishes its jobs when it comes back;
on a rate-limited queue, the limiter holds across them.

The queue is declared by every worker, or registered in the database by the enqueuer alone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("queue_worker.py")
JOBS = 30
GLOBAL_CONCURRENCY = 3


def run(
    mode: str, url: str, schema: str, log: Path, arg: str, kind: str = "declared"
) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2]), "QUEUE_KIND": kind}
    return subprocess.Popen(
        [sys.executable, str(WORKER), mode, url, schema, str(log), arg],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def events(log: Path) -> list[tuple[str, int, float]]:
    if not log.exists():
        return []
    return [
        (e, int(j), float(t))
        for e, j, t, _ in (line.split() for line in log.read_text().splitlines())
    ]


def most_at_once(log: Path, killed_at: float) -> int:
    """The most jobs running at once. Starts and ends pair up per (job, process); a start
    the kill cut short (no end from that process) counts as ending at the kill."""
    lines = [line.split() for line in log.read_text().splitlines()]
    open_starts: dict[tuple[str, str], float] = {}
    edges: list[tuple[float, int]] = []
    for event, job, at, pid in sorted(lines, key=lambda parts: float(parts[2])):
        if event == "start":
            open_starts[(job, pid)] = float(at)
            edges.append((float(at), 1))
        else:
            del open_starts[(job, pid)]
            edges.append((float(at), -1))
    edges += [(max(killed_at, started), -1) for started in open_starts.values()]
    running = peak = 0
    for _, change in sorted(edges):  # an end before a start at the same instant
        running += change
        peak = max(peak, running)
    return peak


def wait_for_a_worker_mid_job(log: Path, workers: dict[str, subprocess.Popen[str]]) -> str:
    """A worker with a job started but not finished, once a third of the jobs are done."""
    by_pid = {str(w.pid): name for name, w in workers.items()}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        lines = [line.split() for line in log.read_text().splitlines()] if log.exists() else []
        if sum(parts[0] == "end" for parts in lines) >= JOBS // 3:
            running: dict[tuple[str, str], int] = {}
            for event, job, _, pid in lines:
                running[(job, pid)] = running.get((job, pid), 0) + (1 if event == "start" else -1)
            busy = [pid for (_, pid), n in running.items() if n > 0 and pid in by_pid]
            if busy:
                return by_pid[busy[0]]
        time.sleep(0.005)
    raise AssertionError("no worker was caught mid-job")


def serve(url: str, schema: str, log: Path, executor: str, kind: str) -> subprocess.Popen[str]:
    worker = run("serve", url, schema, log, executor, kind)
    assert worker.stdout is not None and worker.stdout.readline().strip() == "serving"
    return worker


@pytest.mark.parametrize("kind", ["declared", "registered"])
def test_workers_share_a_queue_within_its_global_concurrency_and_survive_a_kill(
    system_database_url: str, pg_schema: str, tmp_path: Path, kind: str
) -> None:
    log = tmp_path / "jobs.log"
    enqueuer = run("enqueue", system_database_url, pg_schema, log, str(JOBS), kind)
    _, err = enqueuer.communicate(timeout=60)
    assert enqueuer.returncode == 0, err
    names = ("w1", "w2", "w3")
    workers = {name: serve(system_database_url, pg_schema, log, name, kind) for name in names}
    try:
        victim = wait_for_a_worker_mid_job(log, workers)
        workers[victim].send_signal(signal.SIGKILL)
        workers[victim].communicate(timeout=10)
        killed_at = time.time()
        workers[victim] = serve(system_database_url, pg_schema, log, victim, kind)  # recovers
        waiter = run("await", system_database_url, pg_schema, log, str(JOBS))
        out, err = waiter.communicate(timeout=120)
        assert waiter.returncode == 0, err
    finally:
        for worker in workers.values():
            if worker.poll() is None:
                worker.kill()
                worker.communicate()
    assert json.loads(out.strip().splitlines()[-1]) == {f"job-{j}": j * j for j in range(JOBS)}
    finished = [job for event, job, _ in events(log) if event == "end"]
    assert set(finished) == set(range(JOBS))
    assert most_at_once(log, killed_at) <= GLOBAL_CONCURRENCY


def test_workers_share_a_rate_limited_queue_within_its_limit(
    system_database_url: str, pg_schema: str, tmp_path: Path
) -> None:
    jobs, limit, period_ms = 12, 4, 1000  # as queue_worker.py declares the limited queue
    log = tmp_path / "jobs.log"
    args = (system_database_url, pg_schema, log)
    workers = {name: serve(*args, name, "limited") for name in ("w1", "w2", "w3")}
    try:
        enqueuer = run("enqueue", *args, str(jobs), "limited")
        _, err = enqueuer.communicate(timeout=60)
        assert enqueuer.returncode == 0, err
        waiter = run("await", *args, str(jobs), "limited")
        out, err = waiter.communicate(timeout=120)
        assert waiter.returncode == 0, err
        reader = run("starts", *args, str(jobs), "limited")
        starts_out, err = reader.communicate(timeout=60)
        assert reader.returncode == 0, err
    finally:
        for worker in workers.values():
            worker.kill()
            worker.communicate()
    assert json.loads(out.strip().splitlines()[-1]) == {f"job-{j}": j * j for j in range(jobs)}
    starts = sorted(json.loads(starts_out.strip().splitlines()[-1]))
    # Whichever process claimed them, the (i+limit)-th start waits for the i-th to leave
    # the window: never more than `limit` starts in any one period.
    for i in range(len(starts) - limit):
        assert starts[i + limit] - starts[i] >= period_ms, starts


pytestmark = pytest.mark.timeout(240)
