"""DBOS.patch and DBOS.deprecate_patch (and their async twins): in-code workflow versioning."""

from __future__ import annotations

from dbos._api.state import require_runtime
from dbos._runtime.effects import run_async, run_sync
from dbos._runtime.patching import deprecate_patch, patch_flow


class PatchingAPI:
    @classmethod
    def patch(cls, patch_name: str) -> bool:
        """Choose between a workflow's new code and the code its earlier runs recorded.

        Returns True for new executions, and for replays of executions that passed this
        patch; False for replays of executions recorded before the patch existed. Chain
        patches newest first: ``if DBOS.patch("v3"): ... elif DBOS.patch("v2"): ...``.

        Args:
            patch_name: Names the patch; its checkpoint is recorded as ``DBOS.patch-<name>``.

        Raises:
            DBOSException: Patching is not enabled (``enable_patching`` in the
                configuration), or the call is not made from a workflow.
        """
        return run_sync(patch_flow(require_runtime("DBOS.patch"), patch_name))

    @classmethod
    async def patch_async(cls, patch_name: str) -> bool:
        """The async form of ``DBOS.patch``, for ``async def`` workflows.

        Raises:
            DBOSException: As ``DBOS.patch``.
            DBOSPatchNondeterminismError: Another operation of the workflow took the
                function ID this patch checked.
        """
        return await run_async(patch_flow(require_runtime("DBOS.patch"), patch_name))

    @classmethod
    def deprecate_patch(cls, patch_name: str) -> bool:
        """Retire a patch: always True, and never records a marker.

        Runs that recorded the patch's marker step over it, and runs recorded before the
        patch see nothing, so once every run that predates the patch has finished, the
        call (and the old branch) can be deleted from the code.

        Args:
            patch_name: The name given to ``DBOS.patch``.

        Raises:
            DBOSException: As ``DBOS.patch``.
        """
        return deprecate_patch(require_runtime("DBOS.deprecate_patch"), patch_name)

    @classmethod
    async def deprecate_patch_async(cls, patch_name: str) -> bool:
        """The async form of ``DBOS.deprecate_patch``; it reads no storage, so never waits.

        Raises:
            DBOSException: As ``DBOS.patch``.
        """
        return deprecate_patch(require_runtime("DBOS.deprecate_patch"), patch_name)
