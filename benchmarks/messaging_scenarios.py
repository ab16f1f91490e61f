"""The messaging benchmarks (``run_all.py --suite messaging``): wake-ups and publish costs.

- **M1, send-to-recv wake-up, same process.** A workflow waits in ``DBOS.recv``; the
  benchmark sends it a message carrying ``perf_counter()`` taken just before the send, and
  the workflow notes how long after that its recv returned. One message at a time, each sent
  only once the workflow has come back to wait, so every message wakes an idle waiter.
- **M2, the same across processes.** A sender process (``messaging_sender_proc.py``) sends
  ``time.time()``; the waiter here compares with its own clock (same host).
- **M3, set_event from a workflow.** One workflow sets N events; microseconds per
  set_event against the raw-driver floor commit measured around it.
- **M4, write_stream from a workflow.** The same for N stream writes. A workflow of N plain
  steps is measured beside them, as a reference: one checkpoint and nothing else. M3, M4
  and the steps take turns in rounds, each block between two floor samples; the figures
  are the medians over the rounds.

Nothing here asserts on a number.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from dbos import DBOS, DBOSConfig, SetWorkflowID
from floor import FloorSeries
from session import Target, log

SENDER_SCRIPT = Path(__file__).with_name("messaging_sender_proc.py")
_delays: list[float] = []
_received = threading.Event()


@DBOS.workflow()
def bench_receiver(count: int, clock: str) -> int:
    """Receive ``count`` messages; each holds the send time on ``clock``."""
    now = time.perf_counter if clock == "perf" else time.time
    for _ in range(count):
        sent_at = DBOS.recv("ping", timeout_seconds=60)
        _delays.append(now() - float(sent_at))
        _received.set()
    return count


@DBOS.workflow()
def bench_publisher(count: int) -> int:
    for i in range(count):
        DBOS.set_event(f"k{i % 10}", i)
    return count


@DBOS.step()
def bench_noop_step() -> None:
    return None


@DBOS.workflow()
def bench_stepper(count: int) -> int:
    """The reference: a plain step is one checkpoint commit and nothing else."""
    for _ in range(count):
        bench_noop_step()
    return count


@DBOS.workflow()
def bench_streamer(count: int) -> int:
    for i in range(count):
        DBOS.write_stream("s", i)
    return count


@dataclass(frozen=True)
class MessagingPlan:
    pings: int
    publishes: int


MESSAGING_FULL = MessagingPlan(300, 2000)
MESSAGING_QUICK = MessagingPlan(60, 300)
# The publishes are split into rounds, each operation's block bracketed by floor samples: a
# disk or server that changes speed mid-run then skews one round, not the whole figure.
PUBLISH_ROUNDS = 4


@dataclass(frozen=True)
class PerOp:
    """Microseconds per operation and its ratio to the floor, medians over the rounds."""

    us: float
    ratio: float

    def cell(self) -> str:
        return f"{self.us:,.0f} ({self.ratio:.2f}x)"


@dataclass
class MessagingReport:
    backend: str
    floor_us: float
    wake_ms: dict[str, float]
    cross_wake_ms: dict[str, float]
    set_event: PerOp
    write_stream: PerOp
    step: PerOp

    def row(self) -> list[str]:
        return [
            self.backend,
            f"{self.floor_us:,.0f}",
            f"{self.wake_ms['p50']:.2f} / {self.wake_ms['p95']:.2f}",
            f"{self.cross_wake_ms['p50']:.2f} / {self.cross_wake_ms['p95']:.2f}",
            self.set_event.cell(),
            self.write_stream.cell(),
            self.step.cell(),
        ]


def _percentiles(delays: list[float]) -> dict[str, float]:
    ordered = sorted(d * 1000 for d in delays)
    return {
        "p50": statistics.median(ordered),
        "p95": ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))],
    }


def _ping_in_process(count: int) -> dict[str, float]:
    _delays.clear()
    handle = DBOS.start_workflow(bench_receiver, count, "perf")
    for _ in range(count):
        _received.clear()
        DBOS.send(handle.workflow_id, time.perf_counter(), "ping")
        _received.wait(30)
    handle.get_result()
    return _percentiles(_delays)


def _ping_across_processes(config: DBOSConfig, count: int) -> dict[str, float]:
    _delays.clear()
    handle = DBOS.start_workflow(bench_receiver, count, "wall")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    sender = subprocess.Popen(
        [sys.executable, str(SENDER_SCRIPT), json.dumps(config), handle.workflow_id],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert sender.stdin is not None and sender.stdout is not None
    try:
        assert sender.stdout.readline().strip() == "ready"
        for _ in range(count):
            _received.clear()
            sender.stdin.write("send\n")
            sender.stdin.flush()
            _received.wait(30)
    finally:
        sender.stdin.close()
        sender.wait(30)
    handle.get_result()
    return _percentiles(_delays)


def _per_op_us(workflow: object, count: int) -> float:
    started = time.perf_counter()
    with SetWorkflowID(f"bench-{time.time_ns()}"):
        workflow(count)  # type: ignore[operator]
    return (time.perf_counter() - started) / count * 1e6


def _bracketed_rounds(
    floors: FloorSeries, workflows: list[object], count: int
) -> tuple[list[PerOp], float]:
    """Each workflow's PerOp over interleaved rounds, and the median floor us/commit."""
    per_round = max(1, count // PUBLISH_ROUNDS)
    runs: list[list[tuple[float, float]]] = [[] for _ in workflows]
    for _ in range(PUBLISH_ROUNDS):
        for index, workflow in enumerate(workflows):
            before = floors.latest_us
            us = _per_op_us(workflow, per_round)
            floor = (before + floors.sample().us_per_commit) / 2
            runs[index].append((us, us / floor))
    results = [
        PerOp(statistics.median(u for u, _ in r), statistics.median(x for _, x in r)) for r in runs
    ]
    return results, statistics.median(f.us_per_commit for f in floors.samples)


def run_messaging_backend(target: Target, plan: MessagingPlan) -> MessagingReport:
    DBOS(config=target.config)
    DBOS.reset_system_database()
    DBOS.launch()
    try:
        with FloorSeries(target.open_floor(), 500) as floors:
            _per_op_us(bench_publisher, plan.publishes // 4)  # warm-up
            floors.sample()
            (set_event, write_stream, step), floor_us = _bracketed_rounds(
                floors, [bench_publisher, bench_streamer, bench_stepper], plan.publishes
            )
            log(target.name, f"set_event {set_event.cell()}, floor {floor_us:,.0f} us")
            wake = _ping_in_process(plan.pings)
            log(target.name, f"wake-up p50 {wake['p50']:.2f} ms")
            cross = _ping_across_processes(target.config, plan.pings)
            log(target.name, f"cross-process wake-up p50 {cross['p50']:.2f} ms")
    finally:
        DBOS.destroy()
    return MessagingReport(target.name, floor_us, wake, cross, set_event, write_stream, step)


def summary_table(reports: list[MessagingReport]) -> str:
    header = [
        "backend",
        "floor us/commit",
        "send->recv ms p50/p95",
        "cross-process ms p50/p95",
        "set_event us (x floor)",
        "write_stream us (x floor)",
        "plain step us (x floor)",
    ]
    rows = [header, *(r.row() for r in reports)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    )
