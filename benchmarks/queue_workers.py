"""Worker processes for the queue suite (Q3 and the remote Q4): started together, always stopped."""

from __future__ import annotations

import json
import selectors
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from dbos import DBOSConfig

# Upper bounds, so a stuck worker ends the run with an error instead of hanging it.
WORKER_READY_TIMEOUT_SEC = 60.0
WORKER_MAX_SECONDS = 600.0
WORKER_SCRIPT = Path(__file__).with_name("queue_worker_proc.py")

# ---------------------------------------------------------------- worker processes


class WorkerProcesses:
    """Subprocesses serving queues (``queue_worker_proc.py``), each with its executor ID.

    Started together, since each takes a second or more to import and launch; the context
    exits by closing their stdin and terminating them, then killing any that linger.
    """

    def __init__(self, config: DBOSConfig, queues_by_worker: list[list[str]]) -> None:
        self._config = config
        self._queues = queues_by_worker
        self._procs: list[subprocess.Popen[str]] = []

    def __enter__(self) -> WorkerProcesses:
        try:
            for index, queues in enumerate(self._queues, start=1):
                self._procs.append(self._spawn(index, queues))
            deadline = time.monotonic() + WORKER_READY_TIMEOUT_SEC
            for proc in self._procs:
                self._await_ready(proc, deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, index: int, queues: list[str]) -> subprocess.Popen[str]:
        args = [sys.executable, str(WORKER_SCRIPT), "--config", json.dumps(self._config)]
        args += ["--executor-id", f"bench-worker-{index}", "--max-seconds", f"{WORKER_MAX_SECONDS}"]
        for queue in queues:
            args += ["--queue", queue]
        return subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    @staticmethod
    def _await_ready(proc: subprocess.Popen[str], deadline: float) -> None:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"worker {proc.pid} was not ready in time")
                if selector.select(remaining):
                    line = proc.stdout.readline()
                    if line.strip() == "ready":
                        return
                    if not line:
                        raise RuntimeError(f"worker {proc.pid} exited ({proc.wait()})")

    @property
    def count(self) -> int:
        return len(self._procs)

    @property
    def pids(self) -> list[int]:
        return [proc.pid for proc in self._procs]

    def stop(self) -> None:
        for proc in self._procs:
            if proc.stdin is not None and not proc.stdin.closed:
                proc.stdin.close()
            if proc.poll() is None:
                proc.terminate()
        for proc in self._procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        self._procs = []

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
