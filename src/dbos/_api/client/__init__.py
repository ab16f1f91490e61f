"""DBOSClient: enqueue, message, inspect and manage workflows from a process without their code.

The client is split by concern into mixins over one connection (``connection.py``); this
module only composes them.
"""

from __future__ import annotations

from dbos._api.client.introspection import ClientIntrospection
from dbos._api.client.management import ClientManagement
from dbos._api.client.messaging import ClientMessaging
from dbos._api.client.queues import ClientQueues
from dbos._api.client.schedules import ClientSchedules
from dbos._api.client.transactions import ClientTransactions


class DBOSClient(
    ClientMessaging,
    ClientTransactions,
    ClientIntrospection,
    ClientManagement,
    ClientQueues,
    ClientSchedules,
):
    """A connection to a DBOS system database, for programs that do not run the workflows.

    Every call acts on the database directly and is never checkpointed, even when made
    from inside a workflow.
    """


__all__ = ["DBOSClient"]
