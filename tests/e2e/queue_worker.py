"""A process for the multi-worker queue tests.

    python queue_worker.py enqueue URL SCHEMA LOG N          # enqueue N jobs by name, exit
    python queue_worker.py serve   URL SCHEMA LOG EXECUTOR   # serve the queue until killed
    python queue_worker.py await   URL SCHEMA LOG N          # print every job's result
    python queue_worker.py starts  URL SCHEMA LOG N          # print when each job was dequeued

Each job logs "start"/"end" lines with timestamps outside the database, so the test can see
how many ran at once across all processes. With QUEUE_KIND=registered the enqueuer registers
the queue in the database and the workers declare nothing: they find it there. With
QUEUE_KIND=limited the queue has a rate limiter instead of a global concurrency.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

from dbos import DBOS, DBOSConfig, Queue, SetWorkflowID

MODE, URL, SCHEMA, LOG, ARG = sys.argv[1:6]
REGISTERED = os.environ.get("QUEUE_KIND") == "registered"
LIMITED = os.environ.get("QUEUE_KIND") == "limited"
QUEUE = "shared"
GLOBAL_CONCURRENCY = 3
LIMIT, PERIOD_SEC = 4, 1.0


def log(event: str, job: int) -> None:
    fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{event} {job} {time.time():.6f} {os.getpid()}\n".encode())
    finally:
        os.close(fd)


@DBOS.step()
def work(job: int) -> int:
    log("start", job)
    threading.Event().wait(0.2)
    log("end", job)
    return job * job


@DBOS.workflow()
def job_workflow(job: int) -> int:
    return work(job)


def main() -> None:
    config: DBOSConfig = {"name": "queue-e2e", "system_database_url": URL}
    if not URL.startswith("sqlite"):
        config["dbos_system_schema"] = SCHEMA
    if MODE == "serve":
        config["executor_id"] = ARG
        if LIMITED:
            limiter = {"limit": LIMIT, "period": PERIOD_SEC}
            Queue(QUEUE, limiter=limiter, polling_interval_sec=0.05)
        elif not REGISTERED:
            Queue(QUEUE, global_concurrency=GLOBAL_CONCURRENCY, polling_interval_sec=0.05)
    else:
        DBOS.listen_queues([])  # it would serve the queue it registers; leave that to workers
    DBOS(config=config)
    DBOS.launch()
    if MODE == "enqueue" and REGISTERED:
        DBOS.register_queue(QUEUE, global_concurrency=GLOBAL_CONCURRENCY, polling_interval_sec=0.05)
    if MODE == "enqueue":
        for job in range(int(ARG)):
            with SetWorkflowID(f"job-{job}"):
                DBOS.enqueue_workflow(QUEUE, job_workflow, job)
    elif MODE == "serve":
        print("serving", flush=True)
        threading.Event().wait()  # until killed
    elif MODE == "starts":
        statuses = [DBOS.get_workflow_status(f"job-{j}") for j in range(int(ARG))]
        print(json.dumps([s.dequeued_at if s else None for s in statuses]), flush=True)
    else:
        results = {
            f"job-{j}": DBOS.retrieve_workflow(f"job-{j}").get_result() for j in range(int(ARG))
        }
        print(json.dumps(results), flush=True)
    DBOS.destroy()


if __name__ == "__main__":
    main()
