"""The long parameter lists DBOS and DBOSClient share, each written once.

``list_workflows`` takes 27 keyword filters, and DBOS and DBOSClient each offer it, its
queued variant and their async twins. Each list is written here once, as a template
function that checks and gathers its arguments; ``takes(template)`` gives a method the
template's signature (for callers, type checkers and ``help()``) and hands the method what
the template returned. So a new filter is added in one place and reaches every caller.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from dbos._api.arguments import check_workflow_id
from dbos._runtime.management import ForkOptions

P = ParamSpec("P")
A = TypeVar("A")  # what the template gathers
S = TypeVar("S")  # the method's self or cls
R = TypeVar("R")
Filters = dict[str, Any]


def list_workflows_parameters(
    *,
    workflow_ids: list[str] | None = None,
    status: str | list[str] | None = None,
    start_time: str | None = None,
    end_time: str | None = None,
    completed_after: str | None = None,
    completed_before: str | None = None,
    dequeued_after: str | None = None,
    dequeued_before: str | None = None,
    name: str | list[str] | None = None,
    app_version: str | list[str] | None = None,
    forked_from: str | list[str] | None = None,
    parent_workflow_id: str | list[str] | None = None,
    user: str | list[str] | None = None,
    queue_name: str | list[str] | None = None,
    limit: int | None = None,
    offset: int | None = None,
    sort_desc: bool = False,
    workflow_id_prefix: str | None = None,
    load_input: bool = True,
    load_output: bool = True,
    executor_id: str | list[str] | None = None,
    queues_only: bool = False,
    was_forked_from: bool | None = None,
    has_parent: bool | None = None,
    attributes: dict[str, Any] | None = None,
    schedule_name: str | list[str] | None = None,
    application_name: str | list[str] | None = None,
) -> Filters:
    """list_workflows' filters by their public names; the service checks their values."""
    return dict(locals())


def list_queued_workflows_parameters(
    *,
    workflow_ids: list[str] | None = None,
    status: str | list[str] | None = None,
    start_time: str | None = None,
    end_time: str | None = None,
    completed_after: str | None = None,
    completed_before: str | None = None,
    dequeued_after: str | None = None,
    dequeued_before: str | None = None,
    name: str | list[str] | None = None,
    app_version: str | list[str] | None = None,
    forked_from: str | list[str] | None = None,
    parent_workflow_id: str | list[str] | None = None,
    user: str | list[str] | None = None,
    queue_name: str | list[str] | None = None,
    limit: int | None = None,
    offset: int | None = None,
    sort_desc: bool = False,
    workflow_id_prefix: str | None = None,
    load_input: bool = True,
    load_output: bool = True,
    executor_id: str | list[str] | None = None,
    has_parent: bool | None = None,
    attributes: dict[str, Any] | None = None,
    application_name: str | list[str] | None = None,
) -> Filters:
    """list_queued_workflows' filters: list_workflows' without three, on queues only."""
    return {**locals(), "queues_only": True}


@dataclass(frozen=True)
class ForkCall:
    """A fork_workflow call's arguments."""

    workflow_id: str
    start_step: int
    options: ForkOptions


def fork_workflow_parameters(
    workflow_id: str,
    start_step: int,
    *,
    application_version: str | None = None,
    queue_name: str | None = None,
    queue_partition_key: str | None = None,
    replacement_children: dict[str, str] | None = None,
    timeout_seconds: float | None = None,
) -> ForkCall:
    """fork_workflow's arguments; the service checks the options' values."""
    options = ForkOptions(
        application_version, queue_name, queue_partition_key, replacement_children,
        timeout_seconds,
    )  # fmt: skip
    return ForkCall(check_workflow_id(workflow_id), start_step, options)


def takes(
    template: Callable[P, A],
) -> Callable[[Callable[[S, A], R]], Callable[Concatenate[S, P], R]]:
    """Give a method ``template``'s parameters; the method receives what it returns.

    Works for sync and async methods (put ``@classmethod`` above it). Unknown or missing
    arguments raise TypeError from the template, as they would from any function.
    """

    def decorate(method: Callable[[S, A], R]) -> Callable[Concatenate[S, P], R]:
        if inspect.iscoroutinefunction(method):
            coroutine_method: Callable[[S, A], Coroutine[Any, Any, Any]] = method

            @functools.wraps(method)
            async def call_async(owner: S, /, *args: P.args, **kwargs: P.kwargs) -> Any:
                return await coroutine_method(owner, template(*args, **kwargs))

            wrapper: Callable[..., Any] = call_async
        else:

            @functools.wraps(method)
            def call(owner: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
                return method(owner, template(*args, **kwargs))

            wrapper = call
        own = inspect.signature(method)
        first = next(iter(own.parameters.values()))
        wrapper.__signature__ = own.replace(  # type: ignore[attr-defined]
            parameters=[first, *inspect.signature(template).parameters.values()]
        )
        return wrapper

    return decorate
