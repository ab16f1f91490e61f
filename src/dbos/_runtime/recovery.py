"""Recovery: PENDING workflows of this executor go back on a queue to be replayed."""

from __future__ import annotations

import logging

from dbos._core.status import INTERNAL_QUEUE
from dbos._runtime.runtime import Runtime

logger = logging.getLogger("dbos")


def recover_pending_workflows(rt: Runtime, executor_ids: list[str] | None = None) -> list[str]:
    """Re-enqueue this application version's PENDING workflows of the given executors.

    Recovery never runs a workflow itself; the queue runner claims each one (counting a
    recovery attempt) and replays it from its checkpoints.
    """
    recovered: list[str] = []
    for executor_id in executor_ids or [rt.executor_id]:
        recovered += rt.db.queues.requeue_pending(
            executor_id, rt.app_version, rt.app_name, INTERNAL_QUEUE, rt.clock.now_ms()
        )
    if recovered:
        logger.info("Recovering %d pending workflow(s)", len(recovered))
        rt.wake_queues()
    return recovered
