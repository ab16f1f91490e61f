"""SIGKILL a process whose workflows wait in recv and get_event: a new process resumes them,
each message is received exactly once, waits keep their original deadlines, and a workflow
killed after its send does not send again."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

WORKER = Path(__file__).with_name("messaging_worker.py")


def spawn(mode: str, url: str, schema: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    return subprocess.Popen(
        [sys.executable, str(WORKER), mode, url, schema],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def query(url: str, schema: str, sql: str) -> list[tuple[Any, ...]]:
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            return conn.execute(sql.format(s="")).fetchall()
    with psycopg.connect(url) as conn:
        return conn.execute(sql.format(s=f'"{schema}".')).fetchall()  # type: ignore[arg-type]


def step_rows(url: str, schema: str, workflow_id: str) -> list[tuple[Any, ...]]:
    return query(
        url,
        schema,
        "SELECT function_id, function_name, output FROM {s}checkpoints "
        f"WHERE workflow_uuid = '{workflow_id}' ORDER BY function_id",
    )


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_waiting_workflows_resume_after_sigkill_and_receive_each_message_once(
    system_database_url: str, pg_schema: str
) -> None:
    url, schema = system_database_url, pg_schema
    worker = spawn("start", url, schema)
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "started"

        def all_waiting() -> bool:
            # waiter: recv(1) got m1, then its second recv (3) waits with a deadline row (4);
            # watcher: get_event (1) waits with a deadline row (2); sender: send(1) done.
            names = {w: [r[:2] for r in step_rows(url, schema, w)] for w in ("waiter", "watcher")}
            sent = [r[1] for r in step_rows(url, schema, "sender")]
            return (
                (1, "DBOS.recv") in names["waiter"]
                and (4, "DBOS.sleep") in names["waiter"]
                and names["watcher"] == [(2, "DBOS.sleep")]
                and "DBOS.send" in sent
            )

        wait_for(all_waiting, 60, "the workflows to be waiting")
        deadlines = {w: step_rows(url, schema, w)[-1] for w in ("waiter", "watcher")}
        worker.send_signal(signal.SIGKILL)
        worker.communicate(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()

    recovering = spawn("recover", url, schema)
    out, err = recovering.communicate(timeout=120)
    assert recovering.returncode == 0, err
    results = json.loads(out.strip().splitlines()[-1])
    assert results == {"waiter": ["m1", "m2"], "watcher": "raised", "sender": "sent"}

    # The recorded deadlines were reused, not recorded again.
    for workflow_id, row in deadlines.items():
        assert row in step_rows(url, schema, workflow_id)
    messages = query(
        url, schema, "SELECT consumed FROM {s}notifications WHERE destination_uuid = 'waiter'"
    )
    assert len(messages) == 2 and all(consumed for (consumed,) in messages)
    sends = [r for r in step_rows(url, schema, "sender") if r[1] == "DBOS.send"]
    assert len(sends) == 1
