"""A worker process for the async crash-recovery test: async pipelines, killed mid-way.

Each pipeline gathers two async steps, runs a third, sleeps durably, then runs two more.
Every step appends ``<workflow> <step> <pid> <thread>`` to a side-effect log outside the
database, so the test can count how often each step really ran, and where.

    python async_crash_worker.py start   URL SCHEMA LOG N
        launch inside a running event loop (DBOS adopts it), start N pipelines with
        start_workflow_async; odd-numbered ones hang in step 4, even ones finish; then
        wait forever (until SIGKILL)
    python async_crash_worker.py recover URL SCHEMA LOG N
        launch outside any loop (recovered workflows run on DBOS's background loop),
        then print every pipeline's result as one JSON line
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading

from dbos import DBOS, DBOSConfig, SetWorkflowID

MODE, URL, SCHEMA, LOG, COUNT = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])


def record_side_effect(workflow_id: str, step: int) -> None:
    # O_APPEND makes each short line land whole even with several writers.
    line = f"{workflow_id} {step} {os.getpid()} {threading.current_thread().name}\n"
    fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


@DBOS.step()
async def work(step: int, seed: int, value: int) -> int:
    record_side_effect(DBOS.workflow_id or "?", step)
    if MODE == "start" and step == 4 and seed % 2 == 1:
        await asyncio.Event().wait()  # in flight when the kill lands
    await asyncio.sleep(0)
    return value * 2 + step


@DBOS.workflow()
async def pipeline(seed: int) -> int:
    # Function IDs: 1 and 2 (gathered, in argument order), 3, 4 (DBOS.sleep), 5, 6.
    first, second = await asyncio.gather(work(1, seed, seed), work(2, seed, seed))
    value = await work(3, seed, first * 10 + second)  # order matters
    await DBOS.sleep_async(0.01)
    value = await work(4, seed, value)
    return await work(5, seed, value)


def configure() -> None:
    config: DBOSConfig = {"name": "async-crash-test", "system_database_url": URL}
    if not URL.startswith("sqlite"):
        config["dbos_system_schema"] = SCHEMA
    DBOS(config=config)


async def start() -> None:
    configure()
    DBOS.launch()  # inside this loop: the pipelines run on it
    for i in range(COUNT):
        with SetWorkflowID(f"apipe-{i}"):
            await DBOS.start_workflow_async(pipeline, i)
    print("started", flush=True)
    await asyncio.Event().wait()  # until SIGKILL


def recover() -> None:
    configure()
    DBOS.launch()
    results = {
        f"apipe-{i}": DBOS.retrieve_workflow(f"apipe-{i}").get_result() for i in range(COUNT)
    }
    print(json.dumps(results), flush=True)
    DBOS.destroy()


if __name__ == "__main__":
    if MODE == "start":
        asyncio.run(start())
    else:
        recover()
