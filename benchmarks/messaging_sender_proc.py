"""The sender process of benchmark M2: sends ``time.time()`` each time stdin says "send".

.venv/bin/python benchmarks/messaging_sender_proc.py '<DBOSConfig as JSON>' DESTINATION
"""

from __future__ import annotations

import json
import sys
import time

from dbos import DBOS


def main(argv: list[str]) -> int:
    config, destination = json.loads(argv[0]), argv[1]
    # An executor of its own: it must not recover the benchmark process's workflows.
    config["executor_id"] = "bench-sender"
    DBOS(config=config)
    DBOS.launch()
    print("ready", flush=True)
    try:
        for line in sys.stdin:
            if line.strip() == "send":
                DBOS.send(destination, time.time(), "ping")
    finally:
        DBOS.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
