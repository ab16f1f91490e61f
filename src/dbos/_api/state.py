"""Process-wide DBOS state: the singleton instance and, once launched, its runtime."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from dbos._error import DBOSException
from dbos._runtime import context
from dbos._runtime.runtime import Runtime

if TYPE_CHECKING:
    from dbos._api.lifecycle import LifecycleAPI

T = TypeVar("T")


class _State:
    instance: LifecycleAPI | None = None
    runtime: Runtime | None = None


state = _State()


def require_runtime(function_name: str) -> Runtime:
    """The runtime to act through: the enclosing workflow's own, else the launched one."""
    execution = context.enclosing_execution()
    if execution is not None:
        return execution.runtime
    rt = state.runtime
    if rt is not None:
        return rt
    if state.instance is None:
        raise DBOSException(f"Function {function_name} invoked before DBOS initialized")
    raise DBOSException(f"Function {function_name} invoked before DBOS was launched")


def refuse_in_event_loop(api_name: str) -> None:
    """Sync DBOS calls would block the loop they are called from; point to the async twin."""
    if asyncio._get_running_loop() is not None:
        raise RuntimeError(
            f"{api_name}() was called while an event loop is running. "
            f"Use await {api_name}_async(...) instead."
        )


def launched_runtime(api_name: str) -> Runtime:
    execution = context.enclosing_execution()
    if execution is not None:
        return execution.runtime
    rt = state.runtime
    if rt is None:
        raise DBOSException(f"{api_name} requires DBOS to be launched (call DBOS.launch() first)")
    return rt


class classproperty(Generic[T]):  # noqa: N801 - reads as the built-in decorators do
    """A read-only property on the class itself (``DBOS.workflow_id``)."""

    def __init__(self, getter: Callable[[Any], T]) -> None:
        self._getter = getter
        self.__doc__ = getter.__doc__

    def __get__(self, instance: object, owner: type | None = None) -> T:
        return self._getter(owner)
