"""The queue benchmarks (``run_all.py --suite queue``): how fast queued workflows get through,
and how long an enqueued workflow waits for an idle worker.

- **Q1, default queue.** ``Queue("q")`` (polling every 1 s, no limits), served by the
  benchmark process itself: enqueue N one-step workflows one after another, then wait for
  every result. Reported: workflows/s from the first enqueue to the last completion, and the
  enqueue loop's own rate, divided by the floor commit rate measured around it.
- **Q2, worker_concurrency=16.** The same, on a queue that runs at most 16 at a time here.
- **Enqueue only.** The same enqueue loop onto a queue that no process serves, so nothing
  competes with it: the enqueue rate alone.
- **Q3, two worker processes** (Postgres only). Two subprocesses (``queue_worker_proc.py``)
  serve a default queue; the benchmark process only enqueues, by queue name, and waits.
- **Q4, enqueue-to-start latency** with an idle worker: one workflow at a time, whose body
  returns ``time.time()`` minus the timestamp taken just before its enqueue. Once served by
  the benchmark process itself, and (Postgres only) once by a worker process of its own.

Completion times are the rows' ``completed_at`` stamps, read back through
``DBOS.get_workflow_status``, so a waiter's polling interval does not count against the
queue. Nothing here asserts on a number.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from dbos import DBOS, DBOSConfig, Queue, WorkflowHandle
from dbos._runtime.registry import global_registry
from floor import FloorSeries
from process_cpu import ProcessCpu
from queue_probes import counting_calls, counting_runner_passes, probe_runner, system_backend
from queue_results import (
    EnqueueOnly,
    Latency,
    QueueReport,
    SeamCounts,
    Throughput,
    ThroughputRun,
)
from queue_workers import WorkerProcesses
from scenarios import Bracketed, Timing, warm_long_workflow
from session import Target, log
from workload import enqueue_latency, one_step

T = TypeVar("T")

# Queue names. The benchmark process declares (and so serves) the Q1, Q2 and local Q4
# queues only; the Q3 and remote Q4 queues are served by worker processes alone, and the
# enqueue-only queue by nobody.
Q1_DEFAULT = "bench-q1-default"
Q2_WORKER_16 = "bench-q2-worker16"
Q4_LOCAL = "bench-q4-local"
Q3_WORKERS = "bench-q3-workers"
Q4_REMOTE = "bench-q4-remote"
UNSERVED = "bench-unserved"
WORKER_CONCURRENCY = 16
# Q3 also runs with this many threads enqueueing at once: one sequential enqueuer caps Q3
# at one process's enqueue rate, however many workers serve the queue.
ENQUEUER_THREADS = 4

# Every process of the suite runs this version, so no claim skips a row over versions.
APP_VERSION = "bench-queue"
# Upper bounds, so a stuck worker ends the run with an error instead of hanging it.
WAIT_TIMEOUT_SEC = 120.0
# How often the benchmark polls for a result a worker process produced, in Q4 only; the
# outcome of another process's workflow is found by polling (1 s by default).
REMOTE_RESULT_POLL_SEC = 0.002


@dataclass(frozen=True)
class QueuePlan:
    """How much of each queue benchmark to run."""

    system_db_warmup_steps: int
    floor_commits_per_sample: int
    workflows: int  # N, per throughput run
    rounds: int  # runs of each throughput scenario
    warmup_workflows: int  # per queue, untimed, before its first run
    latency_samples: int
    latency_warmup: int
    latency_spacing_sec: float
    latency_budget_sec: float  # per latency run: fewer samples rather than a longer run
    worker_processes: int  # serving Q3
    seam_workflows: int  # Q1 runs counted at the storage seam, untimed
    runner_pass_samples: int


# Each run of N = 2,000 takes 2-8 s at 250-1,000 workflows/s: the full plan takes 60-90 s
# per backend, the quick one about a third of that. A latency run stops at its budget, so a
# worker that is woken late costs samples, not minutes.
QUEUE_FULL = QueuePlan(1500, 800, 2000, 3, 200, 100, 10, 0.02, 20.0, 2, 500, 20)
QUEUE_QUICK = QueuePlan(1500, 400, 2000, 1, 100, 100, 5, 0.02, 10.0, 2, 300, 10)


# ---------------------------------------------------------------- helpers


def _bounded(run: Callable[[], T], timeout: float, what: str) -> T:
    """``run()`` on a helper thread, given up on after ``timeout`` seconds.

    A worker process that died would otherwise leave ``get_result`` waiting for ever; on a
    timeout the suite raises, its cleanup stops the workers and destroys DBOS, and the
    destroy ends the abandoned wait.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = run()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="bench-wait", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"{what} did not finish within {timeout:.0f} s")
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


@contextmanager
def local_queues() -> Iterator[dict[str, Queue]]:
    """Declare the queues this process serves (Q1, Q2, local Q4), and forget them after.

    Declared in the middle of a launch, they are served from the runner's next pass on.
    Forgetting them reaches into the private registry: a queue cannot be declared twice,
    and the next backend's session declares them again. Until they are declared, this
    process serves only DBOS's internal queue, so Q3's enqueuer serves nothing of Q3's.
    """
    declared = global_registry().queues
    queues = [
        Queue(Q1_DEFAULT),
        Queue(Q2_WORKER_16, worker_concurrency=WORKER_CONCURRENCY),
        Queue(Q4_LOCAL),
    ]
    try:
        yield {q.name: q for q in queues}
    finally:
        for queue_name in (Q1_DEFAULT, Q2_WORKER_16, Q4_LOCAL):
            declared.pop(queue_name, None)


def _enqueuer(queue: Queue | str) -> Callable[[int], WorkflowHandle[Any]]:
    """``queue.enqueue`` for a queue served here; by name for one this process only feeds."""

    def enqueue(i: int) -> WorkflowHandle[Any]:
        if isinstance(queue, Queue):
            return queue.enqueue(one_step, i)
        return DBOS.enqueue_workflow(queue, one_step, i)

    return enqueue


# ---------------------------------------------------------------- Q1, Q2, Q3


def _await_all(handles: list[WorkflowHandle[Any]], poll: float) -> list[Any]:
    return [h.get_result(polling_interval_sec=poll) for h in handles]


def _enqueue_all(
    enqueue: Callable[[int], WorkflowHandle[Any]], count: int, threads: int
) -> list[WorkflowHandle[Any]]:
    """Enqueue 0..count-1, from one thread or from ``threads`` at once (a slice each)."""
    if threads <= 1:
        return [enqueue(i) for i in range(count)]
    slots: list[WorkflowHandle[Any] | None] = [None] * count

    def run(first: int) -> None:
        for i in range(first, count, threads):
            slots[i] = enqueue(i)

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert all(h is not None for h in slots), "an enqueuer thread failed"
    return [h for h in slots if h is not None]


def throughput_run(
    enqueue: Callable[[int], WorkflowHandle[Any]],
    count: int,
    floors: FloorSeries,
    poll: float,
    threads: int = 1,
    others: ProcessCpu | None = None,
) -> ThroughputRun:
    """Enqueue ``count`` one-step workflows, wait for all, then sample the floor.

    ``poll`` is the waiter's polling interval: it matters only when another process runs the
    workflows, and then only to when the results are in hand, not to the completion time.
    ``threads``: how many threads enqueue at once (1: one after another).
    """
    floor_before = floors.latest_us
    others_before = others.sample() if others is not None else {}
    wall, epoch, cpu = time.perf_counter(), time.time(), time.process_time()
    handles = _enqueue_all(enqueue, count, threads)
    enqueued, enqueue_cpu = time.perf_counter() - wall, time.process_time() - cpu
    results = _bounded(lambda: _await_all(handles, poll), WAIT_TIMEOUT_SEC, "the queue")
    results_seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    others_after = others.sample() if others is not None else {}
    other_cpu = {kind: others_after[kind] - spent for kind, spent in others_before.items()}
    statuses = [DBOS.get_workflow_status(h.workflow_id) for h in handles]
    floor_after = floors.sample().us_per_commit
    completed_ms = [s.completed_at for s in statuses if s is not None and s.completed_at]
    correct = sum(1 for i, r in enumerate(results) if r == i + 1)
    succeeded = sum(1 for s in statuses if s is not None and s.status == "SUCCESS")
    by_executor = Counter(s.executor_id or "?" for s in statuses if s is not None)
    return ThroughputRun(
        enqueue=Bracketed(Timing(count, enqueued, enqueue_cpu), floor_before, floor_after),
        completion_seconds=max(completed_ms) / 1000 - epoch if completed_ms else math.inf,
        results_seconds=results_seconds,
        cpu_seconds=cpu_seconds,
        completed=min(correct, succeeded),
        by_executor=dict(by_executor),
        other_cpu_seconds=other_cpu,
    )


def enqueue_only_run(count: int, floors: FloorSeries) -> Bracketed:
    """The enqueue loop onto a queue nobody serves; the rows stay ENQUEUED."""
    enqueue = _enqueuer(UNSERVED)
    floor_before = floors.latest_us
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(count):
        enqueue(i)
    timing = Timing(count, time.perf_counter() - wall, time.process_time() - cpu)
    return Bracketed(timing, floor_before, floors.sample().us_per_commit)


def _warm(enqueue: Callable[[int], WorkflowHandle[Any]], count: int, poll: float) -> None:
    handles = [enqueue(i) for i in range(count)]
    _bounded(lambda: _await_all(handles, poll), WAIT_TIMEOUT_SEC, "the warm-up")


# ---------------------------------------------------------------- Q4


def latency_run(
    enqueue: Callable[[float], WorkflowHandle[Any]], plan: QueuePlan, where: str, poll: float
) -> Latency:
    """One workflow at a time: enqueue, await its result, pause, so the worker is idle."""
    samples: list[float] = []
    calls: list[float] = []

    deadline = time.monotonic() + plan.latency_budget_sec

    def run() -> None:
        for i in range(plan.latency_warmup + plan.latency_samples):
            if time.monotonic() > deadline:
                return
            time.sleep(plan.latency_spacing_sec)
            enqueued_at = time.time()
            started = time.perf_counter()
            handle = enqueue(enqueued_at)
            call = time.perf_counter() - started
            latency: float = handle.get_result(polling_interval_sec=poll)
            if i >= plan.latency_warmup:
                samples.append(latency)
                calls.append(call)

    _bounded(run, plan.latency_budget_sec + WAIT_TIMEOUT_SEC, f"the latency samples ({where})")
    return Latency(where, plan.latency_samples, tuple(samples), tuple(calls))


def _remote_latency_enqueuer(enqueued_at: float) -> WorkflowHandle[Any]:
    return DBOS.enqueue_workflow(Q4_REMOTE, enqueue_latency, enqueued_at)


# ---------------------------------------------------------------- storage calls per workflow


def count_seam(queue: Queue, count: int) -> SeamCounts | None:
    """An untimed Q1 run with every backend call counted, by the kind of thread making it."""
    backend = system_backend()
    if backend is None:
        return None
    enqueue = _enqueuer(queue)
    with counting_runner_passes() as passes, counting_calls(backend) as (commits, reads):
        _warm(enqueue, count, poll=1.0)
    return SeamCounts(count, dict(commits), dict(reads), claims=passes[1], runner_passes=passes[0])


# ---------------------------------------------------------------- the session


def queue_config(target: Target) -> DBOSConfig:
    config: DBOSConfig = {**target.config, "application_version": APP_VERSION}
    return config


def _local_rounds(
    queues: dict[str, Queue], plan: QueuePlan, floors: FloorSeries, name: str
) -> tuple[Throughput, Throughput, EnqueueOnly]:
    """Q1, Q2 and enqueue-only, each followed by a floor sample, in rotating order."""
    runs: dict[str, list[Any]] = {"Q1": [], "Q2": [], "enqueue only": []}
    kinds = list(runs)
    for round_ in range(plan.rounds):
        for kind in kinds[round_ % 3 :] + kinds[: round_ % 3]:
            if kind == "enqueue only":
                only = enqueue_only_run(plan.workflows, floors)
                runs[kind].append(only)
                log(name, f"enqueue only: {only.timing.units_per_second:,.0f} enqueues/s "
                          f"({only.ratio():.2f}x floor)")  # fmt: skip
                continue
            queue = queues[Q1_DEFAULT if kind == "Q1" else Q2_WORKER_16]
            run = throughput_run(_enqueuer(queue), plan.workflows, floors, poll=1.0)
            runs[kind].append(run)
            rates = f"{run.workflows_per_second:,.0f} workflows/s"
            enqueues = f"{run.enqueues_per_second:,.0f}/s ({run.enqueue.ratio():.2f}x floor)"
            log(name, f"{kind}: {rates}, enqueue {enqueues}")
    return (
        Throughput(tuple(runs["Q1"])),
        Throughput(tuple(runs["Q2"])),
        EnqueueOnly(tuple(runs["enqueue only"])),
    )


def _worker_scenarios(
    config: DBOSConfig, plan: QueuePlan, floors: FloorSeries, name: str
) -> tuple[Throughput, Throughput, Latency]:
    """Q3 and the remote Q4, with the worker processes alive only for them."""
    # Q3's workers serve Q3's queue only; Q4 gets a worker of its own, idle between samples.
    groups = [[Q3_WORKERS] for _ in range(plan.worker_processes)] + [[Q4_REMOTE]]
    with WorkerProcesses(config, groups) as workers:
        log(name, f"{len(groups)} worker processes ready")
        others = ProcessCpu(workers.pids[: plan.worker_processes])  # Q4's worker idles
        enqueue = _enqueuer(Q3_WORKERS)
        _warm(enqueue, plan.warmup_workflows, poll=0.05)
        floors.sample()
        runs, threaded = [], []
        for _ in range(plan.rounds):
            runs.append(throughput_run(enqueue, plan.workflows, floors, 1.0, others=others))
            log(name, f"Q3: {runs[-1].workflows_per_second:,.0f} workflows/s "
                      f"({plan.worker_processes} worker processes)")  # fmt: skip
            threaded.append(
                throughput_run(
                    enqueue, plan.workflows, floors, 1.0, threads=ENQUEUER_THREADS, others=others
                )
            )
            log(name, f"Q3, {ENQUEUER_THREADS} enqueuer threads: "
                      f"{threaded[-1].workflows_per_second:,.0f} workflows/s")  # fmt: skip
        remote = latency_run(
            _remote_latency_enqueuer, plan, "worker process", REMOTE_RESULT_POLL_SEC
        )
        log(name, f"Q4 (worker process): p50 {remote.ms(0.5):.2f} ms")
    return Throughput(tuple(runs)), Throughput(tuple(threaded)), remote


def _run_queue_scenarios(
    target: Target, config: DBOSConfig, plan: QueuePlan, floors: FloorSeries
) -> QueueReport:
    name = target.name
    warm_long_workflow(plan.system_db_warmup_steps)  # past the first WAL checkpoint
    floors.sample()
    workers, threaded, remote = None, None, None
    if target.name == "postgres":
        # First, while this process declares no queue of its own.
        workers, threaded, remote = _worker_scenarios(config, plan, floors, name)
    with local_queues() as queues:
        _warm(_enqueuer(queues[Q1_DEFAULT]), plan.warmup_workflows, poll=1.0)
        _warm(_enqueuer(queues[Q2_WORKER_16]), plan.warmup_workflows, poll=1.0)
        for i in range(plan.warmup_workflows):
            _enqueuer(UNSERVED)(i)
        probe_start = probe_runner(config, plan.runner_pass_samples)
        floors.sample()
        q1, q2, only = _local_rounds(queues, plan, floors, name)
        q4 = queues[Q4_LOCAL]
        local = latency_run(lambda t: q4.enqueue(enqueue_latency, t), plan, "this process", 1.0)
        log(name, f"Q4 (this process): p50 {local.ms(0.5):.2f} ms")
        seam = count_seam(queues[Q1_DEFAULT], plan.seam_workflows)
        probe_end = probe_runner(config, plan.runner_pass_samples)
        floors.sample()
        # Destroyed inside the block: the runner must stop before the queues are forgotten.
        DBOS.destroy()
    return QueueReport(
        backend=name,
        setting=target.setting,
        floors=tuple(floors.samples),
        default_queue=q1,
        worker_16=q2,
        enqueue_only=only,
        local_latency=local,
        seam=seam,
        probe_start=probe_start,
        probe_end=probe_end,
        workers=workers,
        workers_threaded=threaded,
        worker_count=plan.worker_processes if workers is not None else 0,
        remote_latency=remote,
    )


def run_queue_backend(target: Target, plan: QueuePlan) -> QueueReport:
    """Launch DBOS on ``target``, run Q1-Q4, and leave DBOS destroyed."""
    config = queue_config(target)
    DBOS(config=config)
    DBOS.reset_system_database()
    DBOS.launch()
    try:
        probe = target.open_floor()  # after launch: on Postgres, launch created the database
        with FloorSeries(probe, plan.floor_commits_per_sample) as floors:
            return _run_queue_scenarios(target, config, plan, floors)
    finally:
        DBOS.destroy()
