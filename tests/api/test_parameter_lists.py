"""One parameter list per call, shared by DBOS and DBOSClient: signatures, checks, async."""

from __future__ import annotations

import inspect

import pytest

from dbos import DBOS, DBOSClient
from dbos._api.parameter_lists import list_queued_workflows_parameters, list_workflows_parameters


@pytest.mark.parametrize(
    "method",
    [
        DBOS.list_workflows, DBOS.list_workflows_async, DBOSClient.list_workflows,
        DBOSClient.list_workflows_async,
    ],
)  # fmt: skip
def test_list_methods_show_every_filter_in_their_signature(method: object) -> None:
    shown = [p for p in inspect.signature(method).parameters if p not in ("self", "cls")]  # type: ignore[arg-type]
    assert shown == list(inspect.signature(list_workflows_parameters).parameters)
    assert inspect.iscoroutinefunction(method) == method.__name__.endswith("_async")  # type: ignore[attr-defined]


def test_queued_lists_drop_three_filters_and_keep_to_queues() -> None:
    everything = set(inspect.signature(list_workflows_parameters).parameters)
    queued = set(inspect.signature(DBOS.list_queued_workflows).parameters)
    assert everything - queued == {"queues_only", "was_forked_from", "schedule_name"}
    assert list_queued_workflows_parameters()["queues_only"] is True


def test_an_unknown_or_positional_filter_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="unexpected keyword"):
        DBOS.list_workflows(no_such_filter=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        DBOS.list_workflows("positional")  # type: ignore[misc]
    with pytest.raises(TypeError):
        DBOS.fork_workflow("only-an-id")  # type: ignore[call-arg]
