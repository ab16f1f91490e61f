"""The durable functions the benchmarks run: trivial steps, so only checkpointing is measured.

They are registered when this module is imported, which must happen before ``DBOS(...)`` is
constructed; ``run_all`` imports it at the top for that reason.
"""

from __future__ import annotations

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
