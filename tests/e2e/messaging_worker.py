"""A worker process for the messaging recovery test: workflows that wait in recv and get_event.

python messaging_worker.py start   URL SCHEMA   # start the workflows, then wait forever
python messaging_worker.py recover URL SCHEMA   # launch (recovering), finish them, print results
python messaging_worker.py send URL SCHEMA DESTINATION MESSAGE TOPIC
"""

from __future__ import annotations

import json
import sys
import threading

from dbos import DBOS, DBOSConfig, SetWorkflowID

MODE, URL, SCHEMA = sys.argv[1], sys.argv[2], sys.argv[3]


@DBOS.workflow()
def waiter() -> list[object]:
    """Receives twice; the test kills it while the second receive waits."""
    return [DBOS.recv("t", timeout_seconds=120), DBOS.recv("t", timeout_seconds=120)]


@DBOS.workflow()
def watcher() -> object:
    """Waits for an event that is only set after the kill."""
    return DBOS.get_event("sender", "flag", timeout_seconds=120)


@DBOS.workflow()
def sender() -> str:
    """Sends once, then holds until released; a replay must not send again."""
    DBOS.send("waiter", "m1", "t")
    DBOS.recv("release", timeout_seconds=120)
    DBOS.set_event("flag", "raised")
    return "sent"


def main() -> None:
    config: DBOSConfig = {"name": "messaging-test", "system_database_url": URL}
    if not URL.startswith("sqlite"):
        config["dbos_system_schema"] = SCHEMA
    DBOS(config=config)
    DBOS.launch()
    if MODE == "send":  # send one message to a workflow of another process, and exit
        DBOS.send(sys.argv[4], sys.argv[5], sys.argv[6])
        print("sent", flush=True)
        DBOS.destroy()
        return
    if MODE == "start":
        for workflow_id, func in (("waiter", waiter), ("watcher", watcher), ("sender", sender)):
            with SetWorkflowID(workflow_id):
                DBOS.start_workflow(func)
        print("started", flush=True)
        threading.Event().wait()  # until SIGKILL
    DBOS.send("waiter", "m2", "t")
    DBOS.send("sender", None, "release")
    results = {w: DBOS.retrieve_workflow(w).get_result() for w in ("waiter", "watcher", "sender")}
    print(json.dumps(results), flush=True)
    DBOS.destroy()


if __name__ == "__main__":
    main()
