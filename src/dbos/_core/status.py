"""Workflow status values and the sets of them that decisions are made on."""

from __future__ import annotations

from enum import Enum


class WorkflowStatusString(Enum):
    """The status of a workflow, as stored in the system database."""

    PENDING = "PENDING"
    SUCCESS = "SUCCESS"
    ERROR = "ERROR"
    MAX_RECOVERY_ATTEMPTS_EXCEEDED = "MAX_RECOVERY_ATTEMPTS_EXCEEDED"
    CANCELLED = "CANCELLED"
    ENQUEUED = "ENQUEUED"
    DELAYED = "DELAYED"


PENDING = WorkflowStatusString.PENDING.value
SUCCESS = WorkflowStatusString.SUCCESS.value
ERROR = WorkflowStatusString.ERROR.value
DEAD_LETTERED = WorkflowStatusString.MAX_RECOVERY_ATTEMPTS_EXCEEDED.value
CANCELLED = WorkflowStatusString.CANCELLED.value
ENQUEUED = WorkflowStatusString.ENQUEUED.value
DELAYED = WorkflowStatusString.DELAYED.value

# Active rows may still change outcome; a waiter keeps waiting while a row is in one of these.
ACTIVE = frozenset({PENDING, ENQUEUED, DELAYED})
# Terminal rows have an outcome; CANCELLED and dead-lettered ones can still be resumed.
TERMINAL = frozenset({SUCCESS, ERROR, CANCELLED, DEAD_LETTERED})
# Completed rows have a result that resume and cancel leave untouched.
COMPLETED = frozenset({SUCCESS, ERROR})

INTERNAL_QUEUE = "_dbos_internal_queue"
DEFAULT_MAX_RECOVERY_ATTEMPTS = 100
