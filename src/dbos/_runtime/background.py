"""Running workflows nobody awaits: on the executor's threads, or as tasks on a loop."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any

from dbos._core.queue_rules import QueueLimits
from dbos._core.status import ENQUEUED
from dbos._runtime.effects import Flow, run_async, run_sync
from dbos._runtime.registry import WorkflowInfo
from dbos._runtime.runtime import Runtime
from dbos._runtime.workflows import RunTicket, begin_workflow, execute_flow

logger = logging.getLogger("dbos")


def run_in_background(
    rt: Runtime,
    info: WorkflowInfo,
    ticket: RunTicket,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    on_running_loop: bool = False,
) -> None:
    """Run an activated workflow where nobody awaits it, in a fresh context of its own.

    Sync workflows go to the executor's threads. Async ones become tasks: on the caller's
    loop with ``on_running_loop`` (start_workflow_async), else on the runtime's loop.
    """
    workflow_id = ticket.workflow_id
    flow = execute_flow(rt, info, ticket, args, kwargs)
    if info.is_async:
        if on_running_loop:
            finish = _finish_async(flow, workflow_id)
            task = contextvars.Context().run(asyncio.ensure_future, finish)
            if rt.loop_runner is not None:
                rt.loop_runner.track(task)
            return
        if rt.loop_runner is None:
            rt.deactivate(workflow_id)
            raise RuntimeError("DBOS has no event loop for async workflows; is it launched?")
        rt.loop_runner.submit(lambda: _finish_async(flow, workflow_id))
        return

    def run() -> None:
        try:
            run_sync(flow)
        except Exception:
            pass  # recorded in the database; whoever awaits the workflow sees it
        except BaseException:
            logger.exception("Workflow %s stopped abnormally", workflow_id)

    try:
        rt.pool.submit(contextvars.Context().run, run)
    except RuntimeError:
        rt.deactivate(workflow_id)  # the executor is shut down; recovery will run it
        raise


async def _finish_async(flow: Flow[Any], workflow_id: str) -> None:
    try:
        await run_async(flow)
    except Exception:
        pass  # recorded in the database; whoever awaits the workflow sees it
    except asyncio.CancelledError:
        logger.info("Workflow %s was interrupted by shutdown; recovery resumes it", workflow_id)
        raise


def start_flow(
    rt: Runtime,
    info: WorkflowInfo,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    on_running_loop: bool = False,
) -> Flow[str]:
    """``DBOS.start_workflow``: insert the row now, run the body in the background."""
    started = yield from begin_workflow(rt, info, args, kwargs)
    if started.run_here and rt.try_activate(started.workflow_id):
        run_in_background(rt, info, started.ticket, args, kwargs, on_running_loop=on_running_loop)
    return started.workflow_id


def enqueue_flow(
    rt: Runtime,
    info: WorkflowInfo,
    queue_name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    queue_limits: QueueLimits | None = None,
) -> Flow[str]:
    """Enqueue: insert an ENQUEUED row; a queue runner (here or elsewhere) runs it.

    ``queue_limits``: the settings of a queue declared here, to check partition keys by.
    """
    started = yield from begin_workflow(
        rt, info, args, kwargs, status=ENQUEUED, queue_name=queue_name, queue_limits=queue_limits
    )
    return started.workflow_id
