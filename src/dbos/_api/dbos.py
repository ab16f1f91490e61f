"""The DBOS class: one facade over every concern's API mixin."""

from __future__ import annotations

from dbos._api.classes import ClassesAPI
from dbos._api.decorators import DecoratorsAPI
from dbos._api.introspection import IntrospectionAPI
from dbos._api.lifecycle import LifecycleAPI
from dbos._api.management import ManagementAPI
from dbos._api.messages import MessagesAPI
from dbos._api.patching import PatchingAPI
from dbos._api.properties import PropertiesAPI
from dbos._api.queues import QueuesAPI
from dbos._api.schedules import SchedulesAPI
from dbos._api.streams import StreamsAPI
from dbos._api.transactions import TransactionsAPI
from dbos._api.workflows import WorkflowsAPI


class DBOS(
    LifecycleAPI,
    DecoratorsAPI,
    WorkflowsAPI,
    IntrospectionAPI,
    ManagementAPI,
    QueuesAPI,
    SchedulesAPI,
    MessagesAPI,
    StreamsAPI,
    ClassesAPI,
    TransactionsAPI,
    PatchingAPI,
    PropertiesAPI,
):
    """The DBOS runtime: a process-wide singleton built with ``DBOS(config=...)``.

    Decorate functions with ``@DBOS.workflow()`` and ``@DBOS.step()``, call
    ``DBOS.launch()``, then call workflows as ordinary functions: their progress is
    checkpointed, and after a crash they resume from their last completed step.
    """
