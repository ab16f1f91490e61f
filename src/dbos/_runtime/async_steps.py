"""What async steps can do that sync ones cannot: time out, and be preempted by a cancel.

Both wrap the step's coroutine function once, at decoration; the step flow then calls the
wrapper once per attempt, so every attempt gets a fresh deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from dbos._core.status import CANCELLED
from dbos._error import DBOSStepTimeoutError
from dbos._runtime import context
from dbos._runtime.runtime import Runtime
from dbos._runtime.steps import cancelled_error

AsyncFunc = Callable[..., Awaitable[Any]]
# How often a preemptible step looks at its workflow's status.
PREEMPT_POLL_SECONDS = 1.0


def with_timeout(func: AsyncFunc, step_name: str, timeout_seconds: float) -> AsyncFunc:
    async def attempt(*args: Any, **kwargs: Any) -> Any:
        # asyncio.wait (not wait_for) tells our deadline from a TimeoutError the body raises
        # itself, e.g. an HTTP client's: that one is the step's own error, not a timeout.
        task = asyncio.ensure_future(func(*args, **kwargs))
        try:
            done, _ = await asyncio.wait({task}, timeout=timeout_seconds)
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        if not done:
            raise DBOSStepTimeoutError(step_name, timeout_seconds)
        return task.result()

    return attempt


def preemptible(func: AsyncFunc, runtime: Callable[[], Runtime]) -> AsyncFunc:
    """Cancel the step, and record nothing, as soon as its workflow is cancelled."""

    async def attempt(*args: Any, **kwargs: Any) -> Any:
        execution = context.enclosing_execution()
        if execution is None:
            return await func(*args, **kwargs)
        rt, workflow_id = runtime(), execution.workflow_id
        task = asyncio.ensure_future(func(*args, **kwargs))
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=PREEMPT_POLL_SECONDS)
                cancelled = await _is_cancelled(rt, workflow_id)
                if cancelled:  # outranks a result or a timeout that arrived at the same time
                    raise cancelled_error(workflow_id)
                if done:
                    return task.result()
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

    return attempt


async def _is_cancelled(rt: Runtime, workflow_id: str) -> bool:
    if workflow_id in rt.cancelled:
        return True
    status = await asyncio.to_thread(rt.db.workflows.get_status, workflow_id)
    return status == CANCELLED
