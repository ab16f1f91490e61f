"""Patching: in-code workflow versioning decided by the checkpoint at the next function ID.

A patch is a branch point in a workflow body. ``patch`` peeks at what an earlier run recorded
at the next function ID, without taking that ID first:

- nothing recorded: this is a new execution (or one that never got this far). Record the
  marker ``DBOS.patch-<name>`` there, take the ID, and take the new branch;
- this patch's marker: a replay of an execution that took the new branch; take the ID;
- anything else: a replay of an execution recorded before the patch existed. Leave the ID
  for the operation that was recorded there, and take the old branch.

``deprecate_patch`` is the step before deleting a patch from the code: it never writes a
marker, but steps over one that an earlier run recorded, so both kinds of recorded run
replay onto the same (new) code.

The peek and the taking of the ID happen in one synchronous stretch, before the flow yields
its first effect, so no other operation of the same workflow can take that ID in between,
even under the async driver, whose only await here is the marker's write (made after the ID
is ours). ``_take`` still checks that the ID taken is the one peeked and raises
``DBOSPatchNondeterminismError`` otherwise: it guards against user code calling a patch
from a thread (``asyncio.to_thread`` copies the workflow context) while the workflow's own
task starts other operations.
"""

from __future__ import annotations

from dbos._error import DBOSException, DBOSPatchNondeterminismError
from dbos._runtime import context
from dbos._runtime.effects import Flow
from dbos._runtime.execution import WorkflowExecution
from dbos._runtime.runtime import Runtime
from dbos._runtime.steps import begin_operation, checkpoint_write, record

MARKER_PREFIX = "DBOS.patch-"


def marker_name(patch_name: str) -> str:
    """The ``function_name`` a patch's checkpoint is recorded under."""
    return MARKER_PREFIX + patch_name


def _patching_execution(rt: Runtime, api_name: str) -> WorkflowExecution:
    if not rt.settings.enable_patching:
        raise DBOSException("enable_patching must be True in DBOS configuration")
    execution = context.current_execution()
    if execution is None:
        raise DBOSException(f"{api_name} must be called from a workflow")
    return execution


def _take(ex: WorkflowExecution, peeked_id: int, patch_name: str) -> None:
    """Take the function ID that was peeked; anything else means an operation raced us."""
    taken = ex.next_function_id()
    if taken != peeked_id:
        raise DBOSPatchNondeterminismError(
            ex.workflow_id,
            patch_name,
            f"function ID {peeked_id} was checked, but another operation of the workflow "
            f"took IDs concurrently and this patch would take {taken}",
        )


def patch_flow(rt: Runtime, patch_name: str) -> Flow[bool]:
    """True for the patched branch; the first run through a patch records its marker."""
    ex = _patching_execution(rt, "DBOS.patch")
    name = marker_name(patch_name)
    function_id = ex.function_id + 1
    recorded = begin_operation(rt, ex, function_id)
    if recorded is not None and recorded.function_name != name:
        return False  # recorded before the patch: the old branch, the ID left alone
    _take(ex, function_id, patch_name)
    if recorded is None:
        # A bookkeeping row: no output, no error, only the marker's name.
        write = checkpoint_write(rt, ex, function_id, name, rt.clock.now_ms())
        yield from record(rt, ex, write)
    return True


def deprecate_patch(rt: Runtime, patch_name: str) -> bool:
    """Always True; steps over the patch's marker if an earlier run recorded one."""
    ex = _patching_execution(rt, "DBOS.deprecate_patch")
    function_id = ex.function_id + 1
    recorded = begin_operation(rt, ex, function_id)
    if recorded is not None and recorded.function_name == marker_name(patch_name):
        _take(ex, function_id, patch_name)
    return True
