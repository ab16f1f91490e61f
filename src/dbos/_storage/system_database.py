"""SystemDatabase: the stores of one system database, over whichever backend was chosen."""

from __future__ import annotations

from dbos._storage.backend import Backend
from dbos._storage.migrator import Migrator
from dbos._storage.queues import QueueStore
from dbos._storage.steps import StepStore
from dbos._storage.versions import VersionStore
from dbos._storage.workflows import WorkflowStore


class SystemDatabase:
    """The runtime's only handle on storage: ``db.workflows``, ``db.steps``, and so on."""

    def __init__(self, backend: Backend, schema: str) -> None:
        self.backend = backend
        self.dialect = backend.dialect
        self.migrator = Migrator(backend, schema)
        self.workflows = WorkflowStore(backend)
        self.steps = StepStore(backend)
        self.queues = QueueStore(backend)
        self.versions = VersionStore(backend)

    def close(self) -> None:
        self.backend.close()
