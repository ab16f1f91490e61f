"""DBOSClient's cancel, resume, delete, fork, attributes, delay and rename: the service's.

The service never consults the workflow context, so these calls are never checkpointed,
even when a workflow makes them; the one context they read is an enclosing SetWorkflowID,
which names a fork, as it does for DBOS.fork_workflow.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from dbos._api.arguments import check_workflow_id, check_workflow_ids
from dbos._api.client.connection import ClientConnection
from dbos._api.client.handles import ClientHandle, ClientHandleAsync
from dbos._api.parameter_lists import ForkCall, fork_workflow_parameters, takes
from dbos._runtime import context


class ClientManagement(ClientConnection):
    """Changing workflows: cancel, resume, delete, fork, attributes, delay."""

    def cancel_workflow(self, workflow_id: str, *, cancel_children: bool = False) -> None:
        """Cancel a workflow (and its descendants with ``cancel_children``).

        A finished workflow is left as it is and an unknown ID is ignored. A run stops at
        its next step, in whichever process runs it.
        """
        self.cancel_workflows([check_workflow_id(workflow_id)], cancel_children=cancel_children)

    async def cancel_workflow_async(
        self, workflow_id: str, *, cancel_children: bool = False
    ) -> None:
        """The async twin of cancel_workflow."""
        ids = [check_workflow_id(workflow_id)]
        await self.cancel_workflows_async(ids, cancel_children=cancel_children)

    def cancel_workflows(self, workflow_ids: list[str], *, cancel_children: bool = False) -> None:
        """Cancel several workflows, in one transaction."""
        service = self._management()
        service.cancel(check_workflow_ids(workflow_ids), cancel_children=cancel_children)

    async def cancel_workflows_async(
        self, workflow_ids: list[str], *, cancel_children: bool = False
    ) -> None:
        """The async twin of cancel_workflows."""
        cancel = partial(self._management().cancel, cancel_children=cancel_children)
        await self._call_async(cancel, check_workflow_ids(workflow_ids))

    def resume_workflow(
        self, workflow_id: str, *, queue_name: str | None = None
    ) -> ClientHandle[Any]:
        """Continue a cancelled, dead-lettered or interrupted workflow from its last step.

        It goes on ``queue_name`` (default: DBOS's internal queue) for a DBOS process to
        run. Raises DBOSNonExistentWorkflowError for an unknown ID.
        """
        return self.resume_workflows([check_workflow_id(workflow_id)], queue_name=queue_name)[0]

    async def resume_workflow_async(
        self, workflow_id: str, *, queue_name: str | None = None
    ) -> ClientHandleAsync[Any]:
        """The async twin of resume_workflow."""
        ids = [check_workflow_id(workflow_id)]
        return (await self.resume_workflows_async(ids, queue_name=queue_name))[0]

    def resume_workflows(
        self, workflow_ids: list[str], *, queue_name: str | None = None
    ) -> list[ClientHandle[Any]]:
        """Resume several workflows in one transaction; every ID must exist."""
        ids = self._management().resume(check_workflow_ids(workflow_ids), queue_name=queue_name)
        return [ClientHandle(self._runtime(), w) for w in ids]

    async def resume_workflows_async(
        self, workflow_ids: list[str], *, queue_name: str | None = None
    ) -> list[ClientHandleAsync[Any]]:
        """The async twin of resume_workflows."""
        resume = partial(self._management().resume, queue_name=queue_name)
        ids = await self._call_async(resume, check_workflow_ids(workflow_ids))
        return [ClientHandleAsync(self._runtime(), w) for w in ids]

    def delete_workflow(self, workflow_id: str, *, delete_children: bool = False) -> None:
        """Delete a workflow and everything recorded for it (descendants too, if asked)."""
        self.delete_workflows([check_workflow_id(workflow_id)], delete_children=delete_children)

    async def delete_workflow_async(
        self, workflow_id: str, *, delete_children: bool = False
    ) -> None:
        """The async twin of delete_workflow."""
        ids = [check_workflow_id(workflow_id)]
        await self.delete_workflows_async(ids, delete_children=delete_children)

    def delete_workflows(self, workflow_ids: list[str], *, delete_children: bool = False) -> None:
        """Delete several workflows, in one transaction."""
        service = self._management()
        service.delete(check_workflow_ids(workflow_ids), delete_children=delete_children)

    async def delete_workflows_async(
        self, workflow_ids: list[str], *, delete_children: bool = False
    ) -> None:
        """The async twin of delete_workflows."""
        delete = partial(self._management().delete, delete_children=delete_children)
        await self._call_async(delete, check_workflow_ids(workflow_ids))

    def update_workflow_attributes(
        self, workflow_id: str, attributes: dict[str, Any] | None, *, merge: bool = False
    ) -> None:
        """Replace a workflow's attributes (None clears them); ``merge`` updates keys."""
        update = self._management().update_attributes
        update(check_workflow_id(workflow_id), attributes, merge=merge)

    async def update_workflow_attributes_async(
        self, workflow_id: str, attributes: dict[str, Any] | None, *, merge: bool = False
    ) -> None:
        """The async twin of update_workflow_attributes."""
        update = partial(self._management().update_attributes, merge=merge)
        await self._call_async(update, check_workflow_id(workflow_id), attributes)

    def set_workflow_delay(
        self,
        workflow_id: str,
        *,
        delay_seconds: float | None = None,
        delay_until_epoch_ms: int | None = None,
    ) -> None:
        """Change when a DELAYED workflow joins its queue (no effect once it has)."""
        self._management().set_delay(
            check_workflow_id(workflow_id),
            delay_seconds=delay_seconds,
            delay_until_epoch_ms=delay_until_epoch_ms,
        )

    async def set_workflow_delay_async(
        self,
        workflow_id: str,
        *,
        delay_seconds: float | None = None,
        delay_until_epoch_ms: int | None = None,
    ) -> None:
        """The async twin of set_workflow_delay."""
        set_delay = partial(
            self._management().set_delay,
            delay_seconds=delay_seconds,
            delay_until_epoch_ms=delay_until_epoch_ms,
        )
        await self._call_async(set_delay, check_workflow_id(workflow_id))

    def _fork(self, call: ForkCall) -> partial[str]:
        fork_id, _ = context.take_workflow_id()  # an enclosing SetWorkflowID names the fork
        service = self._management()
        return partial(
            service.fork, call.workflow_id, call.start_step, call.options, fork_id=fork_id
        )

    @takes(fork_workflow_parameters)
    def fork_workflow(self, call: ForkCall) -> ClientHandle[Any]:
        """Start a new workflow that replays this one's steps before ``start_step``.

        The fork takes its ID from an enclosing SetWorkflowID, else a new one; it runs on
        ``queue_name`` (default: DBOS's internal queue) at ``application_version``
        (default: whichever version is latest when it is dequeued).
        """
        return ClientHandle(self._runtime(), self._fork(call)())

    @takes(fork_workflow_parameters)
    async def fork_workflow_async(self, call: ForkCall) -> ClientHandleAsync[Any]:
        """The async twin of fork_workflow."""
        fork_id = await self._call_async(self._fork(call))
        return ClientHandleAsync(self._runtime(), fork_id)

    def rename_application(
        self,
        old_name: str | None,
        new_name: str,
        *,
        batch_size: int = 10_000,
        adopt_unclaimed_rows: bool = False,
    ) -> dict[str, int]:
        """Re-own an application's rows (spec 13.8) under a new name, while it is stopped.

        Moves queues, schedules, application versions and in-flight workflows of
        ``old_name`` in one transaction, then its finished workflows and steps in batches of
        ``batch_size``; rerunning an interrupted rename finishes it. With
        ``adopt_unclaimed_rows`` rows no application owns move too (``old_name`` may then
        be None to move only those). Returns the rows moved: ``queues``, ``schedules``,
        ``versions``, ``workflows`` and ``steps``. Raises DBOSException for a bad name, a
        name clash or nothing to move, changing nothing.
        """
        return self._management().rename_application(
            old_name, new_name, batch_size=batch_size, adopt_unclaimed_rows=adopt_unclaimed_rows
        )

    async def rename_application_async(
        self,
        old_name: str | None,
        new_name: str,
        *,
        batch_size: int = 10_000,
        adopt_unclaimed_rows: bool = False,
    ) -> dict[str, int]:
        """The async twin of rename_application."""
        # A thread of its own: a rename may run for minutes, longer than the storage
        # threads are meant to be held.
        rename = partial(
            self.rename_application,
            batch_size=batch_size,
            adopt_unclaimed_rows=adopt_unclaimed_rows,
        )
        return await asyncio.to_thread(rename, old_name, new_name)
