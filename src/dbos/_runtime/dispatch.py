"""Running workflows claimed off a queue: from the stored row back to a running body."""

from __future__ import annotations

import json
import logging
from typing import Any

from dbos._core.coercion import coerce_portable_args
from dbos._core.retry import exceeds_recovery_limit
from dbos._core.serialization import DBOSPortableJSONSerializer
from dbos._core.status import ERROR
from dbos._error import (
    DBOSNotAuthorizedError,
    DBOSRecoveryError,
    DBOSWorkflowFunctionNotFoundError,
    MaxRecoveryAttemptsExceededError,
)
from dbos._runtime.background import run_in_background
from dbos._runtime.context import DBOSContext
from dbos._runtime.registry import WorkflowInfo
from dbos._runtime.runtime import Runtime
from dbos._runtime.targets import assumed_role, restore_target
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
    if not rt.try_activate(workflow_id, claimed.queue_name, claimed.partition_key):
        # An earlier run of this workflow is still unwinding here (it lost its row to this
        # very claim): run the claimed row once that run lets go, never drop it.
        rt.pool.submit(_dispatch_when_released, rt, claimed)
        return
    try:
        # The claim made the row PENDING for this executor and returned what running it
        # needs; anything that changes the row from now on (a cancel) is noticed by the
        # run's checkpoints and its guarded outcome write.
        try:
            ticket, args, kwargs = _prepare(rt, info, claimed)
        except _Unrunnable as refused:
            _fail(rt, claimed, refused.cause)
            rt.deactivate(workflow_id)
            return
        run_in_background(rt, info, ticket, args, kwargs)
    except BaseException:
        rt.deactivate(workflow_id)
        raise


class _Unrunnable(Exception):
    """The row as stored can never run: it ends as ERROR with ``cause``.

    Bad arguments or a caller without the roles would fail every retry, so such a row is
    finished at once rather than left PENDING for recovery.
    """

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _prepare(
    rt: Runtime, info: WorkflowInfo, row: ClaimedWorkflow
) -> tuple[RunTicket, tuple[Any, ...], dict[str, Any]]:
    """From the stored row back to a call: arguments, bound target, auth and checkpoints."""
    workflow_id = row.workflow_id
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
            raise _Unrunnable(exc) from exc
    roles = json.loads(row.authenticated_roles) if row.authenticated_roles else None
    caller = DBOSContext(
        authenticated_user=row.authenticated_user,
        authenticated_roles=roles,
        assumed_role=row.assumed_role,
    )
    try:
        # Checked again here: the row may come from an enqueue by name (or a client) that
        # could not check the function's roles, or the roles may have changed since.
        role = assumed_role(info, caller)
    except DBOSNotAuthorizedError as exc:
        raise _Unrunnable(exc) from exc
    # The row's own serialization wins: a row enqueued as portable JSON stays portable.
    ticket = RunTicket(
        workflow_id,
        rt.codec.by_name(row.serialization),
        row.owner,
        rt.db.steps.load(workflow_id) if row.has_steps else {},
        deadline_ms=row.workflow_deadline_epoch_ms,
        authenticated_user=row.authenticated_user,
        authenticated_roles=roles,
        assumed_role=role,
    )
    return ticket, bound + tuple(args), kwargs


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
