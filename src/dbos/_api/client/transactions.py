"""DBOSClient's enqueue and send inside a transaction the caller holds on the system database.

The workflow or the messages commit, or roll back, with the caller's other writes: the
caller passes its SQLAlchemy Connection or Session, and commits it. Sync only, as in the
spec; async callers use their AsyncConnection's ``run_sync``.
"""

from __future__ import annotations

from typing import Any

from dbos._api.client.connection import ClientConnection, outside_workflows
from dbos._api.client.handles import ClientHandle
from dbos._api.client.messaging import DEFAULT_FORMAT
from dbos._api.queues import EnqueueOptions
from dbos._core.serialization import WorkflowSerializationFormat
from dbos._runtime.enqueue_by_name import enqueue_in_transaction
from dbos._runtime.messaging import SendMessage, send_in_transaction


class ClientTransactions(ClientConnection):
    """Enqueueing and sending as part of the caller's own transaction."""

    @outside_workflows
    def enqueue_in_transaction(
        self, conn_or_session: Any, options: EnqueueOptions, *args: Any, **kwargs: Any
    ) -> ClientHandle[Any]:
        """Enqueue a workflow by name in the caller's open transaction.

        Args:
            conn_or_session: A SQLAlchemy Connection or Session on the system database;
                the workflow exists once the caller commits it, and not if it rolls back.
            options: As for enqueue; "return-existing" is refused.
            *args: The workflow's positional arguments.
            **kwargs: The workflow's keyword arguments.

        Returns:
            A handle to the workflow, to use after the commit.

        Raises:
            TypeError: Not a Connection or Session on the system database's kind of DB.
            DBOSQueueDeduplicatedError: The deduplication ID is taken (the caller's
                transaction should then be rolled back).
        """
        rt = self._runtime()
        workflows = rt.db.in_caller_transaction(conn_or_session).workflows
        return ClientHandle(rt, enqueue_in_transaction(rt, workflows, options, args, kwargs))

    @outside_workflows
    def send_in_transaction(
        self,
        conn_or_session: Any,
        destination_id: str,
        message: Any,
        topic: str | None = None,
        idempotency_key: str | None = None,
        *,
        serialization_type: WorkflowSerializationFormat | None = DEFAULT_FORMAT,
        send_to_forks: bool = False,
    ) -> None:
        """Send a message in the caller's open transaction; delivered when it commits.

        The destination may be a workflow enqueued earlier in the same transaction.
        DBOSNonExistentWorkflowError if it does not exist.
        """
        self.send_bulk_in_transaction(
            conn_or_session,
            [SendMessage(destination_id, message, topic, idempotency_key)],
            serialization_type=serialization_type,
            send_to_forks=send_to_forks,
        )

    @outside_workflows
    def send_bulk_in_transaction(
        self,
        conn_or_session: Any,
        messages: list[SendMessage],
        *,
        serialization_type: WorkflowSerializationFormat | None = DEFAULT_FORMAT,
        send_to_forks: bool = False,
    ) -> None:
        """Send several messages in the caller's open transaction."""
        rt = self._runtime()
        store = rt.db.in_caller_transaction(conn_or_session).messages
        send_in_transaction(rt, store, list(messages), serialization_type, send_to_forks)
