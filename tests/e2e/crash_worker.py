"""A worker process for the crash-recovery tests: runs pipelines until it is killed.

Every step appends one line to a side-effect log outside the database, so the test can count
how many times each step really ran.

    python crash_worker.py start   URL SCHEMA LOG N   # start N pipelines, then wait forever
    python crash_worker.py recover URL SCHEMA LOG N   # launch (recovering), print results
"""

from __future__ import annotations

import json
import os
import sys
import threading

from dbos import DBOS, DBOSConfig, SetWorkflowID

MODE, URL, SCHEMA, LOG, COUNT = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
STEPS = 5


def record_side_effect(workflow_id: str, step: int) -> None:
    # O_APPEND makes each short line land whole even with many writer threads.
    fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{workflow_id} {step} {os.getpid()}\n".encode())
    finally:
        os.close(fd)


@DBOS.step()
def work(step: int, value: int) -> int:
    record_side_effect(DBOS.workflow_id or "?", step)
    if MODE == "start" and step >= 3:
        threading.Event().wait(0.002 * step)  # keep workflows in flight when the kill lands
    return value * 2 + step


@DBOS.workflow()
def pipeline(seed: int) -> int:
    value = seed
    for step in range(1, STEPS + 1):
        value = work(step, value)
    return value


def expected_result(seed: int) -> int:
    value = seed
    for step in range(1, STEPS + 1):
        value = value * 2 + step
    return value


def main() -> None:
    config: DBOSConfig = {"name": "crash-test", "system_database_url": URL}
    if not URL.startswith("sqlite"):
        config["dbos_system_schema"] = SCHEMA
    DBOS(config=config)
    DBOS.launch()
    if MODE == "start":
        for i in range(COUNT):
            with SetWorkflowID(f"pipeline-{i}"):
                DBOS.start_workflow(pipeline, i)
        print("started", flush=True)
        threading.Event().wait()  # until SIGKILL
    results = {
        f"pipeline-{i}": DBOS.retrieve_workflow(f"pipeline-{i}").get_result() for i in range(COUNT)
    }
    print(json.dumps(results), flush=True)
    DBOS.destroy()


if __name__ == "__main__":
    main()
