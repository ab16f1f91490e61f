"""Methods as workflows: who ``self``/``cls`` is, what a row stores of it, and who may call.

A workflow's row never stores its instance or class: it stores the class's registered name
and the instance's config name, and the registry gives them back on recovery.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dbos._error import DBOSException, DBOSNotAuthorizedError, DBOSWorkflowFunctionNotFoundError
from dbos._runtime.context import DBOSContext
from dbos._runtime.registry import Registry, WorkflowInfo


@dataclass(frozen=True)
class Target:
    """The bound part of a call, split from the arguments that are stored."""

    class_name: str | None
    config_name: str | None
    stored_args: tuple[Any, ...]


def split_target(info: WorkflowInfo, args: tuple[Any, ...]) -> Target:
    kind = info.method_kind
    if kind == "instance":
        if not args or not hasattr(args[0], "config_name"):
            raise DBOSException(
                f"Workflow {info.name} is an instance method: its class must derive from "
                "DBOSConfiguredInstance"
            )
        return Target(info.class_name, args[0].config_name, args[1:])
    if kind == "class":
        return Target(info.class_name, None, args[1:])
    if kind is None and info.looks_like_method:
        raise DBOSException(
            f"Function target appears to be a class instance or class, but is not properly "
            f"registered: decorate the class of {info.name} with @DBOS.dbos_class()"
        )
    return Target(info.class_name, None, args)


def restore_target(
    registry: Registry,
    info: WorkflowInfo,
    workflow_id: str,
    class_name: str | None,
    config_name: str | None,
) -> tuple[Any, ...]:
    """What to put back in front of the stored arguments when running from the row."""
    if info.method_kind == "instance":
        instance = registry.instances.get(f"{class_name}/{config_name}")
        if instance is None:
            raise DBOSWorkflowFunctionNotFoundError(
                workflow_id, f"configured instance {config_name} of {class_name} is not registered"
            )
        return (instance,)
    if info.method_kind == "class":
        cls = registry.classes.get(class_name or "")
        if cls is None:
            raise DBOSWorkflowFunctionNotFoundError(
                workflow_id, f"class {class_name} is not registered"
            )
        return (cls,)
    return ()


def assumed_role(info: WorkflowInfo, ctx: DBOSContext | None) -> str | None:
    """Check the caller's roles against the function's; the first match is assumed in it."""
    required = info.required_roles
    if not required:
        return None if ctx is None else ctx.assumed_role
    roles = None if ctx is None else ctx.authenticated_roles
    if roles is None:
        raise DBOSNotAuthorizedError(
            f"Function {info.name} requires a role, but was called in a context without "
            "authentication information"
        )
    for role in required:
        if role in roles:
            return role
    raise DBOSNotAuthorizedError(
        f"Function {info.name} has required roles, but user is not authenticated for any of them"
    )
