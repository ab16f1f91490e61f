"""Running workflows claimed off a queue: from the stored row back to a running body."""

from __future__ import annotations

import logging

from dbos._core.coercion import coerce_portable_args
from dbos._core.retry import exceeds_recovery_limit
from dbos._core.serialization import DBOSPortableJSONSerializer
from dbos._core.status import ERROR
from dbos._error import (
    DBOSRecoveryError,
    DBOSWorkflowFunctionNotFoundError,
    MaxRecoveryAttemptsExceededError,
)
from dbos._runtime.runtime import Runtime
from dbos._runtime.workflows import run_in_background
from dbos._storage.records import ClaimedWorkflow

logger = logging.getLogger("dbos")
PORTABLE_NAME = DBOSPortableJSONSerializer().name()


def dispatch(rt: Runtime, claimed: ClaimedWorkflow) -> None:
    """Start a claimed workflow on the executor, replaying whatever it recorded before.

    A workflow already running in this process is left to that run. One whose function is
    not registered here stays PENDING, so a process that has it can recover it.
    """
    workflow_id = claimed.workflow_id
    if not workflow_id.strip():
        _fail(rt, workflow_id, DBOSRecoveryError(workflow_id, "the workflow ID is empty"))
        return
    info = rt.registry.get(claimed.name)
    if info is None:
        logger.error(
            "%s",
            DBOSWorkflowFunctionNotFoundError(workflow_id, f"{claimed.name} is not registered"),
        )
        return
    if exceeds_recovery_limit(claimed.recovery_attempts, info.max_recovery_attempts):
        rt.db.queues.dead_letter(workflow_id, rt.clock.now_ms())
        rt.waiters.notify(workflow_id)
        logger.error(
            "%s", MaxRecoveryAttemptsExceededError(workflow_id, info.max_recovery_attempts)
        )
        return
    if not rt.try_activate(workflow_id):
        return
    try:
        row = rt.db.workflows.get(workflow_id)
        if row is None:
            raise DBOSRecoveryError(workflow_id, "the workflow's row is missing")
        args, kwargs = rt.codec.decode_args(row.inputs or "", row.serialization)
        if row.serialization == PORTABLE_NAME and info.validate_args is None:
            args, kwargs = coerce_portable_args(info.func, args, kwargs)
        if info.validate_args is not None:
            try:
                args, kwargs = info.validate_args(args, kwargs)
            except Exception as exc:
                _fail(rt, workflow_id, exc)
                rt.deactivate(workflow_id)
                return
        # The row's own serialization wins: a row enqueued as portable JSON stays portable.
        serializer = rt.codec.by_name(row.serialization)
        recorded = rt.db.steps.load(workflow_id)
        run_in_background(rt, info, workflow_id, args, kwargs, serializer, recorded)
    except BaseException:
        rt.deactivate(workflow_id)
        raise


def _fail(rt: Runtime, workflow_id: str, exc: Exception) -> None:
    error = rt.codec.encode_error(exc, rt.codec.configured)
    rt.db.workflows.record_outcome(workflow_id, ERROR, None, error, rt.clock.now_ms())
    rt.waiters.notify(workflow_id)
    logger.error("Workflow %s failed before it ran: %s", workflow_id, exc)
