"""A program with none of the workflow code: it drives workflows through DBOSClient only.

python client_process.py URL SCHEMA   # prints one JSON line of what it saw
"""

from __future__ import annotations

import json
import sys

from dbos import DBOSClient, EnqueueOptions

URL, SCHEMA = sys.argv[1], sys.argv[2]


def main() -> None:
    client = DBOSClient(system_database_url=URL, dbos_system_schema=SCHEMA)
    try:
        options: EnqueueOptions = {
            "workflow_name": "greeter",
            "queue_name": "client-queue",
            "workflow_id": "from-client",
        }
        handle = client.enqueue(options, "client")
        client.send("from-client", "hello from the client", "greeting")
        result = handle.get_result(polling_interval_sec=0.05)
        event = client.get_event("from-client", "greeted", timeout_seconds=10)
        stream = list(client.read_stream("from-client", "letters", timeout_seconds=10))
        status = client.retrieve_workflow("from-client").get_status().status
        print(json.dumps({"result": result, "event": event, "stream": stream, "status": status}))
    finally:
        client.destroy()


if __name__ == "__main__":
    main()
