"""@DBOS.workflow, @DBOS.step and DBOS.run_step."""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from typing import Any, TypedDict, TypeVar

from dbos._api.state import require_runtime, state
from dbos._api.validation import resolve_validator
from dbos._core.serialization import WorkflowSerializationFormat
from dbos._core.status import DEFAULT_MAX_RECOVERY_ATTEMPTS
from dbos._error import DBOSException
from dbos._runtime import context
from dbos._runtime.effects import run_sync
from dbos._runtime.registry import (
    TEMP_PREFIX,
    StepSpec,
    ValidateArgs,
    WorkflowInfo,
    global_registry,
)
from dbos._runtime.steps import step_flow
from dbos._runtime.workflows import call_flow

F = TypeVar("F", bound=Callable[..., Any])
INFO_ATTRIBUTE = "__dbos_info__"


class StepOptions(TypedDict, total=False):
    """Options for DBOS.run_step; the same keys and defaults as @DBOS.step."""

    name: str
    retries_allowed: bool
    interval_seconds: float
    max_attempts: int
    backoff_rate: float
    should_retry: Callable[[BaseException], Any] | None
    preemptible: bool
    timeout_seconds: float | None


def _source_of(func: Callable[..., Any]) -> str | None:
    try:
        return inspect.getsource(func)
    except (OSError, TypeError):
        return None


def workflow_info_of(func: Callable[..., Any]) -> WorkflowInfo | None:
    info = getattr(func, INFO_ATTRIBUTE, None)
    return info if isinstance(info, WorkflowInfo) else None


def make_step_spec(
    name: str,
    *,
    retries_allowed: bool = False,
    interval_seconds: float = 1.0,
    max_attempts: int = 3,
    backoff_rate: float = 2.0,
    should_retry: Callable[[BaseException], Any] | None = None,
    timeout_seconds: float | None = None,
    is_async: bool = False,
) -> StepSpec:
    if not isinstance(max_attempts, int) or isinstance(max_attempts, bool) or max_attempts < 1:
        raise DBOSException(f"Step {name}: max_attempts must be a positive integer")
    for label, value in (("interval_seconds", interval_seconds), ("backoff_rate", backoff_rate)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise DBOSException(f"Step {name}: {label} must be a finite number >= 0")
    if timeout_seconds is not None:
        if not is_async:
            raise DBOSException(f"Step {name}: timeout_seconds is only supported on async steps")
        if not math.isfinite(timeout_seconds) or timeout_seconds <= 0:
            raise DBOSException(f"Step {name}: timeout_seconds must be finite and > 0")
    return StepSpec(
        name,
        retries_allowed,
        float(interval_seconds),
        max_attempts,
        float(backoff_rate),
        should_retry,
    )


class DecoratorsAPI:
    @classmethod
    def workflow(
        cls,
        *,
        name: str | None = None,
        max_recovery_attempts: int | None = DEFAULT_MAX_RECOVERY_ATTEMPTS,
        serialization_type: WorkflowSerializationFormat | None = None,
        validate_args: ValidateArgs | None = None,
    ) -> Callable[[F], F]:
        """Make a function a durable workflow."""
        if max_recovery_attempts is not None and (
            not isinstance(max_recovery_attempts, int) or max_recovery_attempts < 0
        ):
            raise DBOSException("max_recovery_attempts must be None or an integer >= 0")

        def decorator(func: F) -> F:
            if inspect.iscoroutinefunction(func):
                raise DBOSException(
                    f"{func.__qualname__}: async workflows are not supported by this release yet"
                )
            info = WorkflowInfo(
                name=name or func.__qualname__,
                func=func,
                kind="workflow",
                max_recovery_attempts=max_recovery_attempts,
                serialization_type=serialization_type,
                validate_args=resolve_validator(validate_args, func),
                source=_source_of(func),
            )

            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                rt = require_runtime(info.name)
                return run_sync(call_flow(rt, info, args, kwargs))

            info.wrapper = wrapper
            setattr(wrapper, INFO_ATTRIBUTE, info)
            global_registry().register(info)
            return wrapper  # type: ignore[return-value]

        return decorator

    @classmethod
    def step(
        cls,
        *,
        name: str | None = None,
        retries_allowed: bool = False,
        interval_seconds: float = 1.0,
        max_attempts: int = 3,
        backoff_rate: float = 2.0,
        should_retry: Callable[[BaseException], Any] | None = None,
        preemptible: bool = False,
        timeout_seconds: float | None = None,
    ) -> Callable[[F], F]:
        """Make a function a checkpointed step of the workflows that call it."""

        def decorator(func: F) -> F:
            is_async = inspect.iscoroutinefunction(func)
            spec = make_step_spec(
                name or func.__qualname__,
                retries_allowed=retries_allowed,
                interval_seconds=interval_seconds,
                max_attempts=max_attempts,
                backoff_rate=backoff_rate,
                should_retry=should_retry,
                timeout_seconds=timeout_seconds,
                is_async=is_async,
            )
            if is_async:
                raise DBOSException(
                    f"{spec.name}: async steps are not supported by this release yet"
                )

            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                execution = context.current_execution()
                if execution is None:  # outside a workflow, or inside another step
                    return func(*args, **kwargs)
                rt = state.runtime or require_runtime(spec.name)
                return run_sync(step_flow(rt, execution, spec, func, args, kwargs))

            # Starting or enqueueing a step runs it inside a <temp> workflow of its own.
            info = WorkflowInfo(
                name=TEMP_PREFIX + spec.name, func=wrapper, kind="step", step=spec,
                source=_source_of(func),
            )  # fmt: skip
            setattr(wrapper, INFO_ATTRIBUTE, info)
            global_registry().register(info)
            return wrapper  # type: ignore[return-value]

        return decorator

    @classmethod
    def run_step(
        cls,
        dbos_step_options: StepOptions | None,
        func: Callable[..., Any],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """Run ``func`` as a checkpointed step of the current workflow."""
        options: dict[str, Any] = dict(dbos_step_options or {})
        name = options.pop("name", None) or getattr(func, "__qualname__", repr(func))
        options.pop("preemptible", None)
        unknown = set(options) - set(StepOptions.__annotations__)
        if unknown:
            raise DBOSException(f"Unknown step options: {', '.join(sorted(unknown))}")
        if not callable(func):
            raise DBOSException(f"run_step needs a callable, got {func!r}")
        spec = make_step_spec(name, **options)
        execution = context.current_execution()
        if execution is None:
            return func(*args, **kwargs)
        return run_sync(step_flow(require_runtime(name), execution, spec, func, args, kwargs))
