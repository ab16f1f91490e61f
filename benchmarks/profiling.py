"""cProfile runs of scenario B, and a split of their time into driver, DBOS and other code.

Two profiles are taken of the same 1,000-step workflow:

- wall clock (cProfile's default timer): where the elapsed time goes, including the time
  spent blocked in the driver waiting for a commit to be acknowledged;
- thread CPU (``time.thread_time``): where the Python CPU goes, which is what the
  "< 0.15 ms of CPU per step" target is about. Waiting on fsync costs no CPU, so here
  DBOS's own overhead stands out instead of being hidden behind the disk.

Profiling inflates the cost of every Python call, so the absolute numbers are higher than
the unprofiled scenario B; read the ranking and the split, not the totals.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dbos
from workload import many_steps

_DBOS_DIR = str(Path(dbos.__file__).resolve().parent)
_STORAGE_DIR = str(Path(_DBOS_DIR) / "_storage")
_BENCH_DIR = str(Path(__file__).resolve().parent)

CATEGORIES = ("driver", "dbos storage", "dbos runtime", "workload", "other")


@dataclass(frozen=True)
class ProfileResult:
    """One profile: its file, the top-N table, and tottime seconds per category."""

    kind: str  # "wall" or "cpu"
    path: Path
    steps: int
    top_table: str
    seconds_by_category: dict[str, float]
    # Time the profiled thread spent blocked in the event loop's poll (an idle loop waiting
    # for worker threads or timers); part of "other". Zero for code that runs no loop.
    loop_wait_seconds: float = 0.0

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds_by_category.values())

    def us_per_step(self, category: str) -> float:
        return self.seconds_by_category[category] / self.steps * 1e6

    @property
    def loop_wait_us_per_step(self) -> float:
        return self.loop_wait_seconds / self.steps * 1e6


def categorize(filename: str, function_name: str) -> str:
    """Which layer a profiled function belongs to.

    C functions show up with filename ``~`` and the owning type in their name, e.g.
    ``<method 'execute' of 'sqlite3.Connection' objects>``, so both are inspected. Cython
    methods (psycopg_binary's libpq wrappers) are invisible to cProfile: their time, even a
    blocking wait for the server, is charged to the Python function that called them.
    """
    if "psycopg" in filename or "sqlite3" in filename:
        return "driver"
    if filename == "~" and ("sqlite3." in function_name or "psycopg" in function_name):
        return "driver"
    if filename.startswith(_STORAGE_DIR):
        return "dbos storage"
    if filename.startswith(_DBOS_DIR):
        return "dbos runtime"
    if filename.startswith(_BENCH_DIR):
        return "workload"
    return "other"


def _split(stats: pstats.Stats) -> dict[str, float]:
    totals = dict.fromkeys(CATEGORIES, 0.0)
    # pstats keeps its table in an undocumented attribute; the public API can only print it.
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, object]] = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in raw.items():
        totals[categorize(filename, name)] += tottime
    return totals


def _loop_wait(stats: pstats.Stats) -> float:
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, object]] = stats.stats  # type: ignore[attr-defined]
    return sum(
        tottime
        for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in raw.items()
        if filename == "~" and "select." in name and "poll" in name
    )


def _shorten(text: str) -> str:
    """Make the printed table readable: drop the long site-packages and repo prefixes."""
    for prefix in (_DBOS_DIR, _BENCH_DIR):
        text = text.replace(prefix, Path(prefix).name)
    return text.replace(str(Path(pstats.__file__).parent), "stdlib")


def profile_long_workflow(
    steps: int, out_dir: Path, label: str, kind: str, top: int
) -> ProfileResult:
    """Profile one ``steps``-step workflow; write ``<label>-<kind>.prof`` and a text dump."""
    many_steps(min(steps, 100))  # warm the same code path outside the profile
    path = out_dir / f"profile-{label}-{kind}.prof"
    return profile_run(lambda: many_steps(steps), steps, path, top, kind)


def profile_run(
    run: Callable[[], object], units: int, path: Path, top: int, kind: str = "wall"
) -> ProfileResult:
    """Profile ``run()`` (``units`` steps or workflows) in this thread; write ``path``
    and a text dump beside it. ``kind`` is "wall" or "cpu" (this thread's CPU clock)."""
    profiler = cProfile.Profile(time.thread_time) if kind == "cpu" else cProfile.Profile()
    profiler.enable()
    run()
    profiler.disable()
    profiler.dump_stats(path)
    buffer = io.StringIO()
    stats = pstats.Stats(profiler, stream=buffer)
    stats.sort_stats(pstats.SortKey.TIME).print_stats(top)
    table = _shorten(_trim_header(buffer.getvalue()))
    path.with_suffix(".txt").write_text(table)
    return ProfileResult(kind, path, units, table, _split(stats), _loop_wait(stats))


def _trim_header(text: str) -> str:
    """Keep pstats' summary line and the table, drop its blank lines and file banner."""
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(line for line in lines if not line.lstrip().startswith("Ordered by"))
