"""Two processes fire the same schedules on one database: each fire time runs exactly once.

Both run a @DBOS.scheduled workflow and a database schedule firing every second, on a real
clock. The workflow ID of a firing is the same in both, so whichever enqueues it first wins
and the other's enqueue does nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("scheduled_worker.py")
FIRINGS = 2  # distinct fire times of each schedule to see while both processes run


def start(url: str, schema: str, log: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    return subprocess.Popen(
        [sys.executable, str(WORKER), url, schema, str(log)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_launched(worker: subprocess.Popen[str]) -> None:
    assert worker.stdout is not None
    if worker.stdout.readline().strip() != "launched":
        worker.kill()
        _, err = worker.communicate()
        pytest.fail(f"worker did not launch: {err}")


def runs(log: Path) -> list[tuple[str, str, str]]:
    if not log.exists():
        return []
    return [tuple(line.split()) for line in log.read_text().splitlines()]  # type: ignore[misc]


def test_two_processes_fire_each_fire_time_once(
    system_database_url: str, pg_schema: str, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    # Started together: they migrate, launch and apply the schedule concurrently too.
    workers = [start(system_database_url, pg_schema, log) for _ in range(2)]
    try:
        for worker in workers:
            wait_launched(worker)
        both_running_from = time.time()
        deadline = time.monotonic() + 60
        while True:  # until each schedule fired FIRINGS times while both processes ran
            fresh = Counter(
                kind for kind, fire_time, _ in runs(log) if _epoch(fire_time) > both_running_from
            )
            if min(fresh["decorated"], fresh["dynamic"]) >= FIRINGS:
                break
            assert time.monotonic() < deadline, f"too few firings: {fresh}"
            time.sleep(0.05)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.communicate(input="", timeout=60)
    for worker in workers:
        assert worker.returncode == 0, worker.stderr
    seen = Counter((kind, fire_time) for kind, fire_time, _ in runs(log))
    assert seen, "nothing fired"
    twice = [firing for firing, count in seen.items() if count > 1]
    assert twice == [], f"fire times run more than once: {twice}"


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


pytestmark = pytest.mark.timeout(180)
