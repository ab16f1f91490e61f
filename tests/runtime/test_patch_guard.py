"""The patch probe's guard: the function ID a patch takes must be the one it checked."""

from __future__ import annotations

import pytest

from dbos._core.serialization import DefaultSerializer
from dbos._runtime.execution import WorkflowExecution
from dbos._runtime.patching import _take, marker_name
from dbos.error import DBOSPatchNondeterminismError


def test_taking_the_checked_id_succeeds() -> None:
    ex = WorkflowExecution(None, "wf", "checkout", DefaultSerializer())  # type: ignore[arg-type]
    ex.function_id = 4
    _take(ex, 5, "v2")
    assert ex.function_id == 5


def test_an_operation_taking_ids_between_check_and_take_is_nondeterminism() -> None:
    ex = WorkflowExecution(None, "wf", "checkout", DefaultSerializer())  # type: ignore[arg-type]
    checked = ex.function_id + 1
    ex.next_function_id()  # another operation of the workflow got there first
    with pytest.raises(DBOSPatchNondeterminismError) as caught:
        _take(ex, checked, "v2")
    assert (caught.value.workflow_id, caught.value.patch_name) == ("wf", "v2")
    assert "Cannot deterministically apply patch v2 in workflow wf" in str(caught.value)


def test_markers_are_named_after_the_patch() -> None:
    assert marker_name("v2") == "DBOS.patch-v2"
