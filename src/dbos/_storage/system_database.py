"""SystemDatabase: the stores of one system database, over whichever backend was chosen."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dbos._storage.backend import Backend
from dbos._storage.events import EventStore
from dbos._storage.forks import ForkStore
from dbos._storage.management import ManagementStore
from dbos._storage.messages import MessageStore
from dbos._storage.migrator import Migrator
from dbos._storage.queue_settings import QueueSettingsStore
from dbos._storage.queues import QueueStore
from dbos._storage.renames import RenameStore
from dbos._storage.schedules import ScheduleStore
from dbos._storage.steps import StepStore
from dbos._storage.streams import StreamStore
from dbos._storage.versions import VersionStore
from dbos._storage.workflow_listing import WorkflowListStore
from dbos._storage.workflows import WorkflowStore

if TYPE_CHECKING:
    from dbos._storage.caller_transaction import CallerTransaction


class SystemDatabase:
    """The runtime's only handle on storage: ``db.workflows``, ``db.steps``, and so on."""

    def __init__(self, backend: Backend, schema: str) -> None:
        self.backend = backend
        self.dialect = backend.dialect
        self.migrator = Migrator(backend, schema)
        self.workflows = WorkflowStore(backend)
        self.steps = StepStore(backend)
        self.queues = QueueStore(backend)
        self.queue_settings = QueueSettingsStore(backend)
        self.versions = VersionStore(backend)
        self.messages = MessageStore(backend, self.steps)
        self.events = EventStore(backend, self.steps)
        self.streams = StreamStore(backend)
        self.listing = WorkflowListStore(backend)
        self.management = ManagementStore(backend)
        self.forks = ForkStore(backend)
        self.renames = RenameStore(backend)
        self.schedules = ScheduleStore(backend)

    def in_caller_transaction(self, conn_or_session: object) -> CallerTransaction:
        """Workflow and message stores writing in a transaction the caller holds and commits.

        ``conn_or_session``: a SQLAlchemy Connection or Session on this database.
        """
        # Imported here: SQLAlchemy's ORM costs every process a fifth of a second to load.
        from dbos._storage.caller_transaction import CallerTransaction

        return CallerTransaction(self.dialect, conn_or_session)

    def close(self) -> None:
        self.backend.close()
