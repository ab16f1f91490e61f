"""Kill a process running async workflows with SIGKILL; a new process finishes them all.

The first process runs its pipelines on the loop DBOS adopted at launch. Odd-numbered
pipelines hang inside step 4; the kill lands once every even one has finished. The second
process recovers the odd ones on DBOS's background loop: gathered steps replay into the
same slots, the durable sleep is not slept again, and no checkpointed step runs twice.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

WORKER = Path(__file__).with_name("async_crash_worker.py")
COUNT = 20
STEPS = 5
# The worker's function IDs for steps 1..5; ID 4 is the durable sleep.
STEP_OF_FUNCTION_ID = {1: 1, 2: 2, 3: 3, 5: 4, 6: 5}

pytestmark = pytest.mark.timeout(180)


def expected_result(seed: int) -> int:
    value = (seed * 2 + 1) * 10 + (seed * 2 + 2)
    for step in (3, 4, 5):
        value = value * 2 + step
    return value


def spawn(mode: str, url: str, schema: str, log: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    return subprocess.Popen(
        [sys.executable, str(WORKER), mode, url, schema, str(log), str(COUNT)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def side_effects(log: Path) -> list[tuple[str, int, str, str]]:
    """Every step run: (workflow ID, step, pid, thread name)."""
    if not log.exists():
        return []
    runs = []
    for line in log.read_text().splitlines():
        workflow_id, step, pid, thread = line.split(" ", 3)
        runs.append((workflow_id, int(step), pid, thread))
    return runs


def query(url: str, schema: str, sql: str) -> list[tuple[Any, ...]]:
    """Run ``sql`` (table names written as ``{s}table``) on the system database."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            return conn.execute(sql.format(s="")).fetchall()
    with psycopg.connect(url) as conn:
        return conn.execute(sql.format(s=f'"{schema}".')).fetchall()


def recorded_steps(url: str, schema: str) -> set[tuple[str, int]]:
    rows = query(url, schema, "SELECT workflow_uuid, function_id FROM {s}checkpoints")
    return {(wid, STEP_OF_FUNCTION_ID[fid]) for wid, fid in rows if fid in STEP_OF_FUNCTION_ID}


def statuses(url: str, schema: str) -> dict[str, tuple[str, int]]:
    rows = query(
        url, schema, "SELECT workflow_uuid, status, recovery_attempts FROM {s}workflow_status"
    )
    return {wid: (status, attempts) for wid, status, attempts in rows}


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_async_workflows_killed_mid_way_recover_in_a_new_process_without_rerunning_steps(
    system_database_url: str, pg_schema: str, tmp_path: Path
) -> None:
    url, log = system_database_url, tmp_path / "side_effects.log"
    evens = [f"apipe-{i}" for i in range(0, COUNT, 2)]
    odds = [f"apipe-{i}" for i in range(1, COUNT, 2)]

    def first_run_reached_the_kill_point() -> bool:
        runs = Counter((wid, step) for wid, step, _, _ in side_effects(log))
        hung = all(runs[(wid, 4)] == 1 for wid in odds)
        found = statuses(url, pg_schema)
        return hung and all(found.get(wid, ("", 0))[0] == "SUCCESS" for wid in evens)

    worker = spawn("start", url, pg_schema, log)
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "started"
        wait_for(first_run_reached_the_kill_point, 60, "evens done and odds hung in step 4")
        worker.send_signal(signal.SIGKILL)
        worker.communicate(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()
    assert worker.returncode == -signal.SIGKILL

    done_before_kill = recorded_steps(url, pg_schema)
    assert done_before_kill == {(wid, s) for wid in evens for s in range(1, STEPS + 1)} | {
        (wid, s) for wid in odds for s in (1, 2, 3)
    }
    first_pid = {pid for _, _, pid, _ in side_effects(log)}
    assert len(first_pid) == 1
    # The first process ran everything on the loop it launched DBOS in: its main thread.
    assert {thread for _, _, _, thread in side_effects(log)} == {"MainThread"}

    recoverer = spawn("recover", url, pg_schema, log)
    out, err = recoverer.communicate(timeout=90)
    assert recoverer.returncode == 0, err
    results = json.loads(out.strip().splitlines()[-1])
    assert results == {f"apipe-{i}": expected_result(i) for i in range(COUNT)}

    runs = side_effects(log)
    counts = Counter((wid, step) for wid, step, _, _ in runs)
    for key in done_before_kill:
        assert counts[key] == 1, f"step {key} ran {counts[key]} times though it was checkpointed"
    for wid in odds:
        assert (counts[(wid, 4)], counts[(wid, 5)]) == (2, 1), wid  # step 4 was in flight
    recovered_runs = [
        (wid, step, thread) for wid, step, pid, thread in runs if pid not in first_pid
    ]
    assert sorted((wid, step) for wid, step, _ in recovered_runs) == sorted(
        (wid, step) for wid in odds for step in (4, 5)
    )
    assert {thread for _, _, thread in recovered_runs} == {"dbos-event-loop"}

    found = statuses(url, pg_schema)
    assert {status for status, _ in found.values()} == {"SUCCESS"}
    assert {wid: attempts for wid, (_, attempts) in found.items()} == {
        **dict.fromkeys(evens, 1),
        **dict.fromkeys(odds, 2),
    }
    assert recorded_steps(url, pg_schema) == {
        (f"apipe-{i}", s) for i in range(COUNT) for s in range(1, STEPS + 1)
    }
