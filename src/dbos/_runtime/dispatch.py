"""Running workflows claimed off a queue: from the stored row back to a running body."""

from __future__ import annotations

import json
import logging

from dbos._core.coercion import coerce_portable_args
from dbos._core.retry import exceeds_recovery_limit
from dbos._core.serialization import DBOSPortableJSONSerializer
from dbos._core.status import ERROR, PENDING
from dbos._error import (
    DBOSRecoveryError,
    DBOSWorkflowFunctionNotFoundError,
    MaxRecoveryAttemptsExceededError,
)
from dbos._runtime.background import run_in_background
from dbos._runtime.runtime import Runtime
from dbos._runtime.targets import restore_target
from dbos._runtime.workflows import RunTicket
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
        _fail(rt, claimed, DBOSRecoveryError(workflow_id, "the workflow ID is empty"))
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
    if not rt.try_activate(workflow_id, claimed.queue_name):
        # An earlier run of this workflow is still unwinding here (it lost its row to this
        # very claim): run the claimed row once that run lets go, never drop it.
        rt.pool.submit(_dispatch_when_released, rt, claimed)
        return
    try:
        row = rt.db.workflows.get(workflow_id)
        if row is None:
            raise DBOSRecoveryError(workflow_id, "the workflow's row is missing")
        if row.status != PENDING or row.executor_id != rt.executor_id:
            rt.deactivate(workflow_id)  # finished or taken over since this claim
            return
        args, kwargs = rt.codec.decode_args(row.inputs or "", row.serialization)
        bound = restore_target(rt.registry, info, workflow_id, row.class_name, row.config_name)
        if row.serialization == PORTABLE_NAME and info.validate_args is None:
            args, kwargs = coerce_portable_args(
                info.func, args, kwargs, skip_first=info.method_kind in ("instance", "class")
            )
        if info.validate_args is not None:
            try:
                args, kwargs = info.validate_args(args, kwargs)
            except Exception as exc:
                _fail(rt, claimed, exc)
                rt.deactivate(workflow_id)
                return
        # The row's own serialization wins: a row enqueued as portable JSON stays portable.
        serializer = rt.codec.by_name(row.serialization)
        recorded = rt.db.steps.load(workflow_id)
        ticket = RunTicket(
            workflow_id,
            serializer,
            claimed.owner,
            recorded,
            deadline_ms=row.workflow_deadline_epoch_ms,
            authenticated_user=row.authenticated_user,
            authenticated_roles=json.loads(row.authenticated_roles)
            if row.authenticated_roles
            else None,
            assumed_role=row.assumed_role,
        )
        run_in_background(rt, info, ticket, bound + tuple(args), kwargs)
    except BaseException:
        rt.deactivate(workflow_id)
        raise


def _dispatch_when_released(rt: Runtime, claimed: ClaimedWorkflow) -> None:
    event = rt.waiters.register(claimed.workflow_id)
    try:
        while not rt.stopping.is_set():
            if rt.try_activate(claimed.workflow_id):
                rt.deactivate(claimed.workflow_id)
                dispatch(rt, claimed)
                return
            event.wait(1.0)
            event.clear()
    finally:
        rt.waiters.unregister(claimed.workflow_id, event)


def _fail(rt: Runtime, claimed: ClaimedWorkflow, exc: Exception) -> None:
    workflow_id = claimed.workflow_id
    error = rt.codec.encode_error(exc, rt.codec.configured)
    rt.db.workflows.record_outcome(
        workflow_id, ERROR, None, error, rt.clock.now_ms(), claimed.owner
    )
    rt.waiters.notify(workflow_id)
    logger.error("Workflow %s failed before it ran: %s", workflow_id, exc)
