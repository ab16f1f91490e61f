"""A process for the exactly-once scheduling test.

    python scheduled_worker.py URL SCHEMA LOG

It launches DBOS with a @DBOS.scheduled workflow and a database schedule, both firing every
second, prints "launched", and runs until its standard input closes. Each run of either
workflow appends "<kind> <fire time> <pid>" to LOG, outside the database.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from typing import Any

from dbos import DBOS, DBOSConfig

URL, SCHEMA, LOG = sys.argv[1:4]


def log(kind: str, fire_time: dt.datetime) -> None:
    fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{kind} {fire_time.isoformat()} {os.getpid()}\n".encode())
    finally:
        os.close(fd)


@DBOS.scheduled("* * * * * *")
@DBOS.workflow(name="decorated")
def decorated(scheduled_time: dt.datetime, actual_time: dt.datetime) -> None:
    log("decorated", scheduled_time)


@DBOS.workflow(name="dynamic")
def dynamic(fire_time: dt.datetime, context: Any) -> None:
    log("dynamic", fire_time)


def main() -> None:
    config: DBOSConfig = {"name": "sched-e2e", "system_database_url": URL}
    if not URL.startswith("sqlite"):
        config["dbos_system_schema"] = SCHEMA
    DBOS(config=config)
    DBOS.launch()
    # Both processes apply the same schedule: an upsert, so the second changes nothing.
    DBOS.apply_schedules(
        [{"schedule_name": "every-second", "workflow_fn": dynamic, "schedule": "* * * * * *"}]
    )
    print("launched", flush=True)
    sys.stdin.read()  # until the test closes it
    DBOS.destroy(workflow_completion_timeout_sec=5)


if __name__ == "__main__":
    main()
