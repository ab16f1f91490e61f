"""A worker process for the queue suite: serves queues until told to stop, runs nothing else.

    .venv/bin/python benchmarks/queue_worker_proc.py --config '<DBOSConfig as JSON>' \
        --queue q3 [--queue ...] [--executor-id bench-worker-1] [--max-seconds 300]

It registers the benchmark's workflows (by importing ``workload``, as the benchmark process
does), declares each ``--queue`` with default settings, launches DBOS on the same system
database as the benchmark process (which has reset it already), prints ``ready`` and waits.
It stops when its stdin closes (the benchmark process ended or closed the pipe), on
SIGTERM, or after ``--max-seconds``, whichever comes first, and destroys DBOS on the way out.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from types import FrameType

# Registers the workflows under the names the benchmark process enqueues them by.
import workload  # noqa: F401
from dbos import DBOS, Queue


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--config", required=True, help="the DBOSConfig, as JSON")
    parser.add_argument("--queue", action="append", required=True, help="a queue to serve")
    parser.add_argument("--executor-id", default=None)
    parser.add_argument("--max-seconds", type=float, default=300.0)
    return parser.parse_args(argv)


def _watch_stdin(stop: threading.Event) -> None:
    """Stop when stdin reaches end of file: the parent closed the pipe or died."""
    while sys.stdin.readline():
        pass
    stop.set()


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    config = json.loads(args.config)
    if args.executor_id is not None:
        config["executor_id"] = args.executor_id
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    for name in args.queue:
        Queue(name)  # default settings: polling every 1 s, no limits
    DBOS(config=config)
    DBOS.launch()
    try:
        threading.Thread(target=_watch_stdin, args=(stop,), daemon=True).start()
        print("ready", flush=True)
        stop.wait(args.max_seconds)
    finally:
        DBOS.destroy(destroy_registry=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
