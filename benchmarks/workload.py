"""The durable functions the benchmarks run: trivial steps, so only checkpointing is measured.

They are registered when this module is imported, which must happen before ``DBOS(...)`` is
constructed; ``run_all`` imports it at the top for that reason.
"""

from __future__ import annotations

import time

from dbos import DBOS

# Steps per workflow in scenarios A and C. A workflow of this shape needs
# 1 (status insert) + STEPS_PER_WORKFLOW (checkpoints) + 1 (outcome) commits.
STEPS_PER_WORKFLOW = 3
COMMITS_PER_WORKFLOW = STEPS_PER_WORKFLOW + 2


@DBOS.step()
def bump(x: int) -> int:
    """A step with a body that costs nothing, so its time is all checkpoint overhead."""
    return x + 1


@DBOS.workflow()
def three_steps(x: int) -> int:
    return bump(bump(bump(x)))


@DBOS.workflow()
def many_steps(count: int) -> int:
    x = 0
    for _ in range(count):
        x = bump(x)
    return x


# ---------------------------------------------------------------- async twins (--suite async)


@DBOS.step()
async def bump_async(x: int) -> int:
    """The async twin of ``bump``: its time is all checkpoint overhead too."""
    return x + 1


@DBOS.workflow()
async def three_steps_async(x: int) -> int:
    """The async twin of ``three_steps``: the same 5 commits, driven on an event loop."""
    return await bump_async(await bump_async(await bump_async(x)))


@DBOS.workflow()
async def sleeper(seconds: float, x: int) -> int:
    """Waits durably; while it sleeps it should hold no thread at all."""
    await DBOS.sleep_async(seconds)
    return x


@DBOS.workflow()
async def awaits_child(seconds: float, x: int) -> int:
    """Starts one sleeping child and waits for it through its handle."""
    handle = await DBOS.start_workflow_async(sleeper, seconds, x)
    result: int = await handle.get_result()
    return result


# ---------------------------------------------------------------- queues (--suite queue)
# The queue suite's worker processes (queue_worker_proc.py) import this module too, so a
# workflow enqueued by the benchmark process is registered under the same name there.


@DBOS.workflow()
def one_step(x: int) -> int:
    """The queue suite's unit of work: one trivial step.

    Enqueued, it costs 3 commits (the ENQUEUED row, the step, the outcome) plus its share of
    a claim, which takes up to 100 rows in one statement.
    """
    return bump(x)


@DBOS.workflow()
def enqueue_latency(enqueued_at: float) -> float:
    """Seconds from ``enqueued_at`` (``time.time()`` just before the enqueue) to this body."""
    return time.time() - enqueued_at
