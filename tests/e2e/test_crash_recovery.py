"""Kill a worker with SIGKILL mid-way through many workflows; a new process finishes them all,
and no step whose result was checkpointed before the kill runs a second time."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest

WORKER = Path(__file__).with_name("crash_worker.py")
COUNT = 40
STEPS = 5


def expected_result(seed: int) -> int:
    value = seed
    for step in range(1, STEPS + 1):
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


def side_effects(log: Path) -> Counter[tuple[str, int]]:
    if not log.exists():
        return Counter()
    lines = log.read_text().splitlines()
    return Counter((wid, int(step)) for wid, step, _pid in (line.split() for line in lines))


def recorded_steps(url: str, schema: str) -> set[tuple[str, int]]:
    query = "SELECT workflow_uuid, function_id FROM {}checkpoints"
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            return set(conn.execute(query.format("")).fetchall())
    with psycopg.connect(url) as conn:
        return set(conn.execute(query.format(f'"{schema}".')).fetchall())  # type: ignore[arg-type]


def wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_every_workflow_completes_after_sigkill_and_no_recorded_step_runs_twice(
    system_database_url: str, pg_schema: str, tmp_path: Path
) -> None:
    log = tmp_path / "side_effects.log"
    worker = spawn("start", system_database_url, pg_schema, log)
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "started"
        # Kill once a good part of the work is done but much is still in flight.
        wait_for(lambda: sum(side_effects(log).values()) >= COUNT * STEPS // 3, 60, "progress")
        worker.send_signal(signal.SIGKILL)
        worker.communicate(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()
    assert worker.returncode == -signal.SIGKILL

    # A step recorded before the kill must never run again; steps caught in flight may.
    done_before_kill = recorded_steps(system_database_url, pg_schema)
    assert done_before_kill, "the worker was killed before it recorded anything"
    assert len(done_before_kill) < COUNT * STEPS, "the worker finished before it was killed"

    recoverer = spawn("recover", system_database_url, pg_schema, log)
    out, err = recoverer.communicate(timeout=90)
    assert recoverer.returncode == 0, err
    results = json.loads(out.strip().splitlines()[-1])
    assert results == {f"pipeline-{i}": expected_result(i) for i in range(COUNT)}

    runs = side_effects(log)
    for key in done_before_kill:
        assert runs[key] == 1, f"step {key} ran {runs[key]} times though it was checkpointed"
    for i in range(COUNT):
        for step in range(1, STEPS + 1):
            assert runs[(f"pipeline-{i}", step)] >= 1


def test_recovered_workflows_count_a_recovery_attempt(
    system_database_url: str, pg_schema: str, tmp_path: Path
) -> None:
    log = tmp_path / "side_effects.log"
    worker = spawn("start", system_database_url, pg_schema, log)
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "started"
        wait_for(lambda: sum(side_effects(log).values()) >= 5, 60, "progress")
        worker.send_signal(signal.SIGKILL)
        worker.communicate(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()
    recoverer = spawn("recover", system_database_url, pg_schema, log)
    _out, err = recoverer.communicate(timeout=90)
    assert recoverer.returncode == 0, err
    query = "SELECT workflow_uuid, recovery_attempts, status FROM {}workflow_status"
    if system_database_url.startswith("sqlite"):
        with sqlite3.connect(system_database_url.removeprefix("sqlite:///")) as conn:
            rows = conn.execute(query.format("")).fetchall()
    else:
        with psycopg.connect(system_database_url) as conn:
            rows = conn.execute(query.format(f'"{pg_schema}".')).fetchall()  # type: ignore[arg-type]
    assert {status for _, _, status in rows} == {"SUCCESS"}
    # Workflows that were still running at the kill were claimed once by the recovery.
    assert {attempts for _, attempts, _ in rows} <= {1, 2}
    assert any(attempts == 2 for _, attempts, _ in rows)


pytestmark = pytest.mark.timeout(180)
