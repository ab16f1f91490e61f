"""dbos: durable workflows for Python, checkpointed in SQLite or Postgres."""

from dbos import error
from dbos._api.classes import DBOSConfiguredInstance
from dbos._api.client import DBOSClient
from dbos._api.context_managers import (
    DBOSContextEnsure,
    DBOSContextSetAuth,
    SetWorkflowAttributes,
    SetWorkflowID,
    SetWorkflowTimeout,
)
from dbos._api.dbos import DBOS
from dbos._api.decorators import StepOptions
from dbos._api.migrations import run_dbos_database_migrations
from dbos._api.queue import Queue
from dbos._api.queues import DuplicationPolicy, EnqueueOptions, SetEnqueueOptions
from dbos._api.schedules import ClientScheduleInput, ScheduleInput
from dbos._api.validation import make_pydantic_args_validator, pydantic_args_validator
from dbos._core.serialization import (
    DBOSPortableJSONSerializer,
    PortableWorkflowError,
    Serializer,
    WorkflowSerializationFormat,
)
from dbos._core.status import WorkflowStatusString
from dbos._runtime.handles import WorkflowHandle, WorkflowHandleAsync
from dbos._runtime.introspection import StepInfo, VersionInfo, WorkflowStatus
from dbos._runtime.messaging import SendMessage
from dbos._runtime.schedules import WorkflowSchedule
from dbos.config import DBOSConfig

__all__ = [
    "DBOS",
    "ClientScheduleInput",
    "DBOSClient",
    "DBOSConfig",
    "DBOSConfiguredInstance",
    "DBOSContextEnsure",
    "DBOSContextSetAuth",
    "DBOSPortableJSONSerializer",
    "DuplicationPolicy",
    "EnqueueOptions",
    "PortableWorkflowError",
    "Queue",
    "ScheduleInput",
    "SendMessage",
    "Serializer",
    "SetEnqueueOptions",
    "SetWorkflowAttributes",
    "SetWorkflowID",
    "SetWorkflowTimeout",
    "StepInfo",
    "StepOptions",
    "VersionInfo",
    "WorkflowHandle",
    "WorkflowHandleAsync",
    "WorkflowSchedule",
    "WorkflowSerializationFormat",
    "WorkflowStatus",
    "WorkflowStatusString",
    "error",
    "make_pydantic_args_validator",
    "pydantic_args_validator",
    "run_dbos_database_migrations",
]
