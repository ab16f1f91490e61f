"""Checks of arguments that many API calls share, so each is refused the same way."""

from __future__ import annotations


def check_workflow_id(workflow_id: object) -> str:
    if not isinstance(workflow_id, str) or not workflow_id:
        raise TypeError(f"workflow_id must be a non-empty string, got {workflow_id!r}")
    return workflow_id


def check_workflow_ids(workflow_ids: object) -> list[str]:
    if isinstance(workflow_ids, str) or not isinstance(workflow_ids, (list, tuple)):
        raise TypeError(f"workflow_ids must be a list of workflow IDs, got {workflow_ids!r}")
    return [check_workflow_id(w) for w in workflow_ids]
