"""CPU time of the other processes a queue scenario keeps busy: workers and the Postgres server.

The benchmark process measures its own CPU with ``time.process_time``. Q3's throughput also
depends on what the worker processes and the database server spend per workflow, and on a
2-core machine all of them share the same cores. Read from ``/proc`` (Linux only; elsewhere
the rows read n/a). The server's share is every process named ``postgres`` on this machine:
meaningful only when the server is local and serves nothing else meanwhile.
"""

from __future__ import annotations

import os
from pathlib import Path

_PROC = Path("/proc")
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_seconds(pid: int) -> float:
    """User plus system time of ``pid`` (0 if it is gone)."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _server_pids() -> list[int]:
    pids = []
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue  # exited meanwhile
    return pids


class ProcessCpu:
    """Samples the CPU seconds spent so far by the worker processes and the server."""

    def __init__(self, worker_pids: list[int]) -> None:
        self._workers = worker_pids
        self._available = _PROC.is_dir()

    def sample(self) -> dict[str, float]:
        if not self._available:
            return {}
        return {
            "workers": sum(_cpu_seconds(pid) for pid in self._workers),
            # Backends come and go; one that exits mid-run takes its time with it, so the
            # figure can only be low, never high.
            "server": sum(_cpu_seconds(pid) for pid in _server_pids()),
        }
