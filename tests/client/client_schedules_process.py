"""A program with none of the workflow code that manages schedules through DBOSClient only.

python client_schedules_process.py URL SCHEMA   # prints one JSON line of what it saw

The test process runs DBOS with the workflow "fired", which returns its arguments.
"""

from __future__ import annotations

import datetime as dt
import json
import sys

from dbos import DBOSClient

URL, SCHEMA = sys.argv[1], sys.argv[2]
UTC = dt.timezone.utc


def main() -> None:
    client = DBOSClient(system_database_url=URL, dbos_system_schema=SCHEMA)
    try:
        client.create_schedule(
            schedule_name="by-client",
            workflow_name="fired",
            schedule="0 0 * * *",
            context={"from": "client"},
            cron_timezone="Asia/Tokyo",
            application_name="test-app",
        )
        client.create_schedule(
            schedule_name="every-second", workflow_name="fired", schedule="* * * * * *"
        )
        listed = [s["schedule_name"] for s in client.list_schedules()]
        client.pause_schedule("by-client")
        paused = client.get_schedule("by-client")
        client.resume_schedule("by-client")
        # Midnight in Tokyo on the 2nd (a bound, so not fired) to 01:00 on the 4th.
        start, end = dt.datetime(2030, 1, 1, 15), dt.datetime(2030, 1, 3, 16, tzinfo=UTC)
        handles = client.backfill_schedule("by-client", start, end)
        triggered = client.trigger_schedule("by-client")
        backfilled = [h.get_result(polling_interval_sec=0.05) for h in handles]
        trigger_result = triggered.get_result(polling_interval_sec=0.05)
        client.apply_schedules(
            [{"schedule_name": "by-client", "workflow_name": "fired", "schedule": "@hourly"}]
        )
        applied = client.get_schedule("by-client")
        client.delete_schedule("by-client")
        assert paused is not None and applied is not None
        print(
            json.dumps(
                {
                    "listed": listed,
                    "paused": paused["status"],
                    "owner": paused["application_name"],
                    "backfilled": [h.workflow_id for h in handles],
                    "results": backfilled,
                    "trigger_id": triggered.workflow_id,
                    "trigger_context": trigger_result[1],
                    "same_id": applied["schedule_id"] == paused["schedule_id"],
                    "applied": [applied["schedule"], applied["status"], applied["context"]],
                    "deleted": client.get_schedule("by-client") is None,
                }
            )
        )
    finally:
        client.destroy()


if __name__ == "__main__":
    main()
