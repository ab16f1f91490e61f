"""The async benchmarks (``run_all.py --suite async``): what driving a workflow on an event
loop costs, and whether a waiting async workflow holds a thread.

- **D, twins.** The async workflow of 3 async steps against its sync twin of 3 sync steps,
  called directly one after another, in alternating blocks so drift hits both alike. Both
  make the same 5 commits; the difference is the async driver (every storage call handed to
  a worker thread with ``asyncio.to_thread``, the loop, coroutines).
- **E, 1,000 sleepers.** 1,000 async workflows started at once, each awaiting
  ``DBOS.sleep_async(1)``, with ``max_executor_threads=4``.
- **F, 1,000 parents.** 1,000 async workflows that each start one sleeping child and await
  it with ``handle.get_result()``, so 2,000 workflows wait at once.

E and F sample ``threading.active_count()`` while they run: a thread per waiting workflow
would show as a peak near 1,000. Nothing here asserts on a number.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from dbos import DBOS
from dbos._runtime import effects
from profiling import ProfileResult, profile_run
from scenarios import Timing, warm_long_workflow
from session import Target, log
from workload import awaits_child, sleeper, three_steps, three_steps_async


@dataclass(frozen=True)
class AsyncPlan:
    """How much of each async benchmark to run."""

    system_db_warmup_steps: int
    twin_warmup: int
    twin_blocks: int
    twin_block_size: int
    handoff_samples: int
    fan_out_width: int
    sleep_seconds: float
    executor_threads: int


# D takes about 2 x blocks x block size x 3 ms on SQLite; E and F about 3 s each.
ASYNC_FULL = AsyncPlan(1500, 200, 12, 100, 2000, 1000, 1.0, 4)
ASYNC_QUICK = AsyncPlan(1500, 50, 4, 50, 500, 1000, 1.0, 4)


@dataclass(frozen=True)
class TwinResult:
    """Scenario D: the sync and async twins, each summed over its blocks.

    ``inline`` is an experiment, not a mode DBOS has: the async twin again, with
    the storage handoff replaced by a direct call, so every storage call runs on the loop
    thread. The gap between ``async_`` and ``inline`` is what the thread handoffs cost.
    """

    sync: Timing
    async_: Timing
    inline: Timing
    block_ratios: tuple[float, ...]  # async us/workflow over sync, block by block
    inline_block_ratios: tuple[float, ...]  # the experiment over sync, block by block
    handoffs_per_workflow: float  # storage handoffs per async workflow
    handoff_us: float  # one storage handoff round trip on an idle loop (median)

    @property
    def median_ratio(self) -> float:
        return statistics.median(self.block_ratios)

    @property
    def inline_median_ratio(self) -> float:
        return statistics.median(self.inline_block_ratios)

    @property
    def added_us(self) -> float:
        return self.async_.us_per_unit - self.sync.us_per_unit

    @property
    def handoff_total_us(self) -> float:
        return self.handoffs_per_workflow * self.handoff_us


@dataclass(frozen=True)
class FanOutResult:
    """Scenario E or F: many async workflows waiting at once."""

    started: int  # workflows started by the benchmark (parents in F)
    in_flight: int  # workflows waiting at once (parents and children in F)
    completed: int  # of ``in_flight``, how many ended SUCCESS with the expected result
    start_seconds: float  # until every start_workflow_async returned
    wall_seconds: float  # until every result was in
    cpu_seconds: float
    threads_before: int
    threads_peak: int
    threads_at_peak: dict[str, int]  # thread kinds (names without their number) at the peak


@dataclass(frozen=True)
class AsyncReport:
    backend: str
    executor_threads: int
    twins: TwinResult
    sleepers: FanOutResult
    parents: FanOutResult
    profiles: tuple[ProfileResult, ...]  # D's sync and async twins, wall clock


def thread_kind(name: str) -> str:
    """``asyncio_3`` -> ``asyncio``, ``dbos-executor-_0`` -> ``dbos-executor``."""
    return re.sub(r"[-_]*\d+$", "", name).rstrip("-_") or name


class ThreadSampler:
    """Samples ``threading.active_count()`` on a thread of its own; reports the peak.

    The sampler's own thread is left out of every number it reports.
    """

    def __init__(self, interval_seconds: float = 0.002) -> None:
        self._interval = interval_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-thread-sampler")
        self.before = 0
        self.peak = 0
        self.at_peak: dict[str, int] = {}

    def _sample(self) -> None:
        threads = [t for t in threading.enumerate() if t is not self._thread]
        if len(threads) > self.peak:
            self.peak = len(threads)
            self.at_peak = dict(Counter(thread_kind(t.name) for t in threads))

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def __enter__(self) -> ThreadSampler:
        self.before = threading.active_count()
        self._sample()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


# ---------------------------------------------------------------- D: twins


async def _timed_async(units: int, run: Callable[[], Awaitable[object]]) -> Timing:
    wall, cpu = time.perf_counter(), time.process_time()
    await run()
    return Timing(units, time.perf_counter() - wall, time.process_time() - cpu)


def _timed_sync(units: int, run: Callable[[], object]) -> Timing:
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return Timing(units, time.perf_counter() - wall, time.process_time() - cpu)


def _sync_block(count: int) -> None:
    for i in range(count):
        three_steps(i)


async def _async_block(count: int) -> None:
    for i in range(count):
        await three_steps_async(i)


def _total(timings: list[Timing]) -> Timing:
    return Timing(
        sum(t.units for t in timings),
        sum(t.wall_seconds for t in timings),
        sum(t.cpu_seconds for t in timings),
    )


@contextmanager
def _patched_offloader(replacement: Callable[..., Awaitable[Any]]) -> Iterator[None]:
    """Swap the async driver's storage handoff (the runtime's StorageThreads)."""
    real = effects._offload
    effects._offload = replacement  # type: ignore[assignment]
    try:
        yield
    finally:
        effects._offload = real


@contextmanager
def _counting_handoffs() -> Iterator[list[int]]:
    """Count the async driver's storage handoffs."""
    real = effects._offload
    calls = [0]

    def counting(func: Callable[..., Any], *args: Any) -> Awaitable[Any]:
        calls[0] += 1
        return real(func, *args)

    with _patched_offloader(counting):
        yield calls


def _inline(func: Callable[..., Any], *args: Any) -> Awaitable[Any]:
    """A handoff that is no handoff: run the storage call on the loop itself."""
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    try:
        future.set_result(func(*args))
    except Exception as exc:
        future.set_exception(exc)
    return future


async def _handoff_round_trip_us(samples: int) -> float:
    durations = []
    for _ in range(samples):
        started = time.perf_counter()
        await effects._offload(int)
        durations.append(time.perf_counter() - started)
    return statistics.median(durations) * 1e6


def _time_kind(kind: str, loop: asyncio.AbstractEventLoop, size: int) -> Timing:
    if kind == "sync":
        return _timed_sync(size, lambda: _sync_block(size))
    if kind == "async":
        return loop.run_until_complete(_timed_async(size, lambda: _async_block(size)))
    with _patched_offloader(_inline):
        return loop.run_until_complete(_timed_async(size, lambda: _async_block(size)))


def compare_twins(loop: asyncio.AbstractEventLoop, plan: AsyncPlan) -> TwinResult:
    """Scenario D. One loop serves every async block, so its worker threads stay warm."""
    _sync_block(plan.twin_warmup)
    loop.run_until_complete(_async_block(plan.twin_warmup))
    size = plan.twin_block_size
    kinds = ["sync", "async", "inline"]
    timings: dict[str, list[Timing]] = {kind: [] for kind in kinds}
    for block in range(plan.twin_blocks):
        # Rotate which kind goes first, so a drifting disk favours none of them.
        for kind in kinds[block % 3 :] + kinds[: block % 3]:
            timings[kind].append(_time_kind(kind, loop, size))
    with _counting_handoffs() as calls:
        loop.run_until_complete(_async_block(size))

    def ratios(kind: str) -> tuple[float, ...]:
        pairs = zip(timings["sync"], timings[kind], strict=True)
        return tuple(t.us_per_unit / s.us_per_unit for s, t in pairs)

    return TwinResult(
        sync=_total(timings["sync"]),
        async_=_total(timings["async"]),
        inline=_total(timings["inline"]),
        block_ratios=ratios("async"),
        inline_block_ratios=ratios("inline"),
        handoffs_per_workflow=calls[0] / size,
        handoff_us=loop.run_until_complete(_handoff_round_trip_us(plan.handoff_samples)),
    )


def profile_twins(
    loop: asyncio.AbstractEventLoop, plan: AsyncPlan, out_dir: Path, label: str, top: int
) -> tuple[ProfileResult, ...]:
    """D's twins under cProfile (wall clock). Only the calling thread is profiled: for the
    async twin that is the loop, and storage work on worker threads shows as loop waits."""
    size = plan.twin_block_size
    sync_profile = profile_run(
        lambda: _sync_block(size), size, out_dir / f"profile-{label}-twin-sync.prof", top
    )
    async_profile = profile_run(
        lambda: loop.run_until_complete(_async_block(size)),
        size,
        out_dir / f"profile-{label}-twin-async.prof",
        top,
    )
    return sync_profile, async_profile


# ---------------------------------------------------------------- E and F: fan-outs


async def _fan_out(
    width: int, start: Callable[[int], Awaitable[Any]], expected: Callable[[int], int]
) -> tuple[list[Any], float, float, float, list[bool]]:
    wall, cpu = time.perf_counter(), time.process_time()
    handles = await asyncio.gather(*(start(i) for i in range(width)))
    started = time.perf_counter() - wall
    results = await asyncio.gather(*(h.get_result() for h in handles))
    elapsed, cpu_used = time.perf_counter() - wall, time.process_time() - cpu
    return handles, started, elapsed, cpu_used, [r == expected(i) for i, r in enumerate(results)]


async def _count_succeeded(workflow_ids: list[str]) -> int:
    statuses = await asyncio.gather(*(DBOS.get_workflow_status_async(w) for w in workflow_ids))
    return sum(1 for s in statuses if s is not None and s.status == "SUCCESS")


def fan_out(plan: AsyncPlan, with_children: bool) -> FanOutResult:
    """Scenario E (``with_children`` False) or F, on a fresh loop."""
    seconds, width = plan.sleep_seconds, plan.fan_out_width
    workflow = awaits_child if with_children else sleeper

    async def start(i: int) -> Any:
        return await DBOS.start_workflow_async(workflow, seconds, i)

    async def run() -> FanOutResult:
        with ThreadSampler() as sampler:
            handles, started, wall, cpu, correct = await _fan_out(width, start, lambda i: i)
        parent_ids = [h.workflow_id for h in handles]
        ids = parent_ids + ([f"{p}-1" for p in parent_ids] if with_children else [])
        succeeded = await _count_succeeded(ids)
        # A parent's correct result proves its child finished too.
        completed = min(succeeded, sum(correct) * (2 if with_children else 1))
        return FanOutResult(
            width,
            len(ids),
            completed,
            started,
            wall,
            cpu,
            sampler.before,
            sampler.peak,
            sampler.at_peak,
        )

    return asyncio.run(run())


# ---------------------------------------------------------------- the session


def _twins_on_their_own_loop(
    plan: AsyncPlan, out_dir: Path, name: str, top: int
) -> tuple[TwinResult, tuple[ProfileResult, ...]]:
    """D and its profiles; the loop and its worker threads are gone before E starts."""
    loop = asyncio.new_event_loop()
    try:
        twins = compare_twins(loop, plan)
        log(
            name,
            f"D: sync {twins.sync.us_per_unit:,.0f} us, async {twins.async_.us_per_unit:,.0f} us"
            f" per workflow (median block ratio {twins.median_ratio:.2f}x)",
        )
        return twins, profile_twins(loop, plan, out_dir, name, top)
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


def run_async_backend(target: Target, plan: AsyncPlan, out_dir: Path, top: int) -> AsyncReport:
    """Launch DBOS on ``target`` with a small executor, run D, E and F; leave it destroyed."""
    name = target.name
    DBOS(config={**target.config, "max_executor_threads": plan.executor_threads})
    DBOS.reset_system_database()
    DBOS.launch()
    try:
        warm_long_workflow(plan.system_db_warmup_steps)  # past the first WAL checkpoint
        twins, profiles = _twins_on_their_own_loop(plan, out_dir, name, top)
        sleepers = fan_out(plan, with_children=False)
        log(name, f"E: {sleepers.completed} done in {sleepers.wall_seconds:.2f} s, "
                  f"peak {sleepers.threads_peak} threads")  # fmt: skip
        parents = fan_out(plan, with_children=True)
        log(name, f"F: {parents.completed} done in {parents.wall_seconds:.2f} s, "
                  f"peak {parents.threads_peak} threads")  # fmt: skip
    finally:
        DBOS.destroy()
    return AsyncReport(name, plan.executor_threads, twins, sleepers, parents, profiles)
