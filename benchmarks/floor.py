"""The raw-driver floor: what one durable single-row commit costs with no library in the way.

Every checkpoint DBOS writes is at least one such commit, so this is the yardstick the
scenario ratios divide by. It is measured in the same run, on the same disk (SQLite) or the
same server and database (Postgres), because fsync cost drifts between machines and runs.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

# A small payload, about the size of a serialized trivial step output, so the floor row is
# comparable to a checkpoint without copying the checkpoint table's shape.
_PAYLOAD = "x" * 32


@dataclass(frozen=True)
class FloorResult:
    """``commits`` durable single-row commits took ``wall_seconds`` (``cpu_seconds`` of CPU)."""

    commits: int
    wall_seconds: float
    cpu_seconds: float

    @property
    def us_per_commit(self) -> float:
        return self.wall_seconds / self.commits * 1e6

    @property
    def commits_per_second(self) -> float:
        return self.commits / self.wall_seconds

    @property
    def cpu_us_per_commit(self) -> float:
        return self.cpu_seconds / self.commits * 1e6


def _unlink_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def sqlite_floor(path: Path, commits: int, warmup: int) -> FloorResult:
    """``BEGIN IMMEDIATE; INSERT; COMMIT`` per row, WAL with ``synchronous=FULL``.

    Those are the settings DBOS's SQLite backend uses by default, so each commit pays the
    same fsync of the WAL that a checkpoint pays.
    """
    _unlink_sqlite(path)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE floor (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")

        def insert(row_id: int) -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO floor (id, payload) VALUES (?, ?)", (row_id, _PAYLOAD))
            conn.execute("COMMIT")

        # Warm-up grows the WAL file to its working size first: the first commits of a new
        # file also pay for extending it, which no steady-state checkpoint does.
        for row_id in range(warmup):
            insert(row_id)
        wall, cpu = time.perf_counter(), time.process_time()
        for row_id in range(warmup, warmup + commits):
            insert(row_id)
        return FloorResult(
            commits, time.perf_counter() - wall, time.process_time() - cpu
        )
    finally:
        conn.close()
        _unlink_sqlite(path)


def postgres_floor(url: str, commits: int, warmup: int) -> FloorResult:
    """One autocommit ``INSERT`` per row, each its own transaction, ``synchronous_commit=on``.

    The table lives in the benchmark's own database, so it shares the server's WAL and fsync
    with the checkpoints it is compared to.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        # Set explicitly: a server configured with synchronous_commit=off would make the floor
        # a non-durable commit and every ratio meaningless.
        conn.execute("SET synchronous_commit = on")
        conn.execute("DROP TABLE IF EXISTS public.bench_floor")
        conn.execute(
            "CREATE TABLE public.bench_floor (id BIGINT PRIMARY KEY, payload TEXT NOT NULL)"
        )
        query = "INSERT INTO public.bench_floor (id, payload) VALUES (%s, %s)"
        try:
            for row_id in range(warmup):
                conn.execute(query, (row_id, _PAYLOAD))
            wall, cpu = time.perf_counter(), time.process_time()
            for row_id in range(warmup, warmup + commits):
                conn.execute(query, (row_id, _PAYLOAD))
            return FloorResult(commits, time.perf_counter() - wall, time.process_time() - cpu)
        finally:
            conn.execute("DROP TABLE IF EXISTS public.bench_floor")
