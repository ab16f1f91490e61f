"""The raw-driver floor: what one durable single-row commit costs with no library in the way.

Every checkpoint DBOS writes is at least one such commit, so this is the yardstick the
scenario ratios divide by. It is measured in the same run, on the same disk (SQLite) or the
same server and database (Postgres), because fsync cost differs between machines and drifts
within a run. A probe stays open for the whole run so it can be sampled between scenarios:
each scenario is then compared with the floor as it was just before and just after it.
"""

from __future__ import annotations

import sqlite3
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

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


class FloorProbe(Protocol):
    """An open floor table; ``insert`` commits one row durably."""

    # Commits to make before the first sample, to reach the steady state.
    warmup_commits: int

    def insert(self, row_id: int) -> None: ...

    def close(self) -> None: ...


class SQLiteFloor:
    """``BEGIN IMMEDIATE; INSERT; COMMIT`` per row, WAL with ``synchronous=FULL``.

    Those are the settings DBOS's SQLite backend runs with, so each commit pays the same
    fsync of the WAL that a checkpoint pays.
    """

    # SQLite appends to the WAL until it holds wal_autocheckpoint (1,000) pages, then
    # reuses the file from its start. While it appends, every fdatasync also has to journal
    # the file's new size, which on ext4 about doubles the commit (measured ~380 vs ~180 us).
    # A long-lived system database is past that point, so the floor warms up past it too.
    warmup_commits = 1_500

    def __init__(self, path: Path) -> None:
        self._path = path
        self._unlink()
        self._conn = sqlite3.connect(path, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("CREATE TABLE floor (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")

    def insert(self, row_id: int) -> None:
        self._conn.execute("BEGIN IMMEDIATE")
        self._conn.execute("INSERT INTO floor (id, payload) VALUES (?, ?)", (row_id, _PAYLOAD))
        self._conn.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()
        self._unlink()

    def _unlink(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self._path}{suffix}").unlink(missing_ok=True)


class PostgresFloor:
    """One autocommit ``INSERT`` per row, each its own transaction, ``synchronous_commit=on``.

    The table lives in the benchmark's own database, so it shares the server's WAL and
    fsync with the checkpoints it is compared to.
    """

    # Enough for psycopg to prepare the statement (after 5 runs) and the server to cache
    # the table's pages.
    warmup_commits = 200

    def __init__(self, url: str) -> None:
        self._conn = psycopg.connect(url, autocommit=True)
        # Set explicitly: on a server configured with synchronous_commit=off the floor would
        # be a non-durable commit and every ratio meaningless.
        self._conn.execute("SET synchronous_commit = on")
        self._conn.execute("DROP TABLE IF EXISTS public.bench_floor")
        self._conn.execute(
            "CREATE TABLE public.bench_floor (id BIGINT PRIMARY KEY, payload TEXT NOT NULL)"
        )

    def insert(self, row_id: int) -> None:
        self._conn.execute(
            "INSERT INTO public.bench_floor (id, payload) VALUES (%s, %s)", (row_id, _PAYLOAD)
        )

    def close(self) -> None:
        try:
            self._conn.execute("DROP TABLE IF EXISTS public.bench_floor")
        finally:
            self._conn.close()


class FloorSeries:
    """Repeated floor samples from one probe over a run, after the probe's warm-up."""

    def __init__(self, probe: FloorProbe, commits_per_sample: int) -> None:
        self._probe = probe
        self._commits = commits_per_sample
        self._next_id = 0
        self.samples: list[FloorResult] = []
        for _ in range(probe.warmup_commits):
            self._insert()

    def _insert(self) -> None:
        self._probe.insert(self._next_id)
        self._next_id += 1

    def sample(self) -> FloorResult:
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(self._commits):
            self._insert()
        result = FloorResult(self._commits, time.perf_counter() - wall, time.process_time() - cpu)
        self.samples.append(result)
        return result

    @property
    def latest_us(self) -> float:
        return self.samples[-1].us_per_commit

    def __enter__(self) -> FloorSeries:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._probe.close()


def median_us(samples: list[FloorResult]) -> float:
    return statistics.median(s.us_per_commit for s in samples)


def range_text(samples: list[FloorResult]) -> str:
    """The lowest and highest us/commit of a run's floor samples, for its table."""
    values = [s.us_per_commit for s in samples]
    return f"{min(values):,.0f} - {max(values):,.0f}"


def median_cpu_us(samples: list[FloorResult]) -> float:
    return statistics.median(s.cpu_us_per_commit for s in samples)
