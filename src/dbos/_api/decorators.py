"""@DBOS.workflow, @DBOS.step and DBOS.run_step."""

from __future__ import annotations

import asyncio
import functools
import inspect
import math
from collections.abc import Callable
from typing import Any, TypedDict, TypeVar

from dbos._api.state import refuse_in_event_loop, require_runtime
from dbos._api.validation import resolve_validator
from dbos._core.serialization import WorkflowSerializationFormat
from dbos._core.status import DEFAULT_MAX_RECOVERY_ATTEMPTS
from dbos._error import DBOSException, DBOSWorkflowFunctionNotFoundError
from dbos._runtime import context
from dbos._runtime.async_steps import preemptible, with_timeout
from dbos._runtime.effects import run_async, run_sync
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


ROLES_ATTRIBUTE = "__dbos_required_roles__"


def _first_parameter(func: Callable[..., Any]) -> str | None:
    try:
        parameters = list(inspect.signature(func).parameters)
    except (TypeError, ValueError):
        return None
    return parameters[0] if parameters else None


def workflow_info_of(func: Callable[..., Any]) -> WorkflowInfo | None:
    info = getattr(func, INFO_ATTRIBUTE, None)
    return info if isinstance(info, WorkflowInfo) else None


def registered_workflow(
    func: Callable[..., Any], args: tuple[Any, ...]
) -> tuple[WorkflowInfo, tuple[Any, ...]]:
    """The workflow behind ``func``; a bound method's self (or cls) goes in front of args."""
    info = workflow_info_of(func)
    if info is None:
        raise DBOSWorkflowFunctionNotFoundError(
            "<NONE>", f"{getattr(func, '__qualname__', func)} is not a registered workflow"
        )
    bound = getattr(func, "__self__", None)
    return info, args if bound is None else (bound, *args)


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


def _step_callable(
    func: Callable[..., Any], spec: StepSpec, timeout_seconds: float | None, preempt: bool
) -> Callable[..., Any]:
    """What the step flow calls per attempt: ``func``, with async-only powers wrapped on."""
    call = func
    if timeout_seconds is not None:
        call = with_timeout(call, spec.name, timeout_seconds)
    if preempt:
        call = preemptible(call, lambda: require_runtime(spec.name))
    return call


def _register_step_as_workflow(wrapper: Callable[..., Any], spec: StepSpec, func: Any) -> None:
    """Starting or enqueueing a step runs it inside a <temp> workflow of its own."""
    info = WorkflowInfo(
        name=TEMP_PREFIX + spec.name,
        func=wrapper,
        kind="step",
        step=spec,
        source=_source_of(func),
        is_async=inspect.iscoroutinefunction(func),
    )
    setattr(wrapper, INFO_ATTRIBUTE, info)
    global_registry().register(info)


def _workflow_wrapper(info: WorkflowInfo) -> Callable[..., Any]:
    func = info.func
    if info.is_async:

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            rt = require_runtime(info.name)
            return await run_async(call_flow(rt, info, args, kwargs))

        return async_wrapper

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        rt = require_runtime(info.name)
        return run_sync(call_flow(rt, info, args, kwargs))

    return wrapper


def _step_wrapper(func: Callable[..., Any], spec: StepSpec, call: Callable[..., Any]) -> Any:
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            execution = context.current_execution()
            if execution is None:  # outside a workflow, or inside another step: a plain call
                return await func(*args, **kwargs)
            rt = require_runtime(spec.name)
            return await run_async(step_flow(rt, execution, spec, call, args, kwargs))

        return async_wrapper

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        execution = context.current_execution()
        if execution is None:  # outside a workflow, or inside another step: a plain call
            return func(*args, **kwargs)
        rt = require_runtime(spec.name)
        return run_sync(step_flow(rt, execution, spec, func, args, kwargs))

    return wrapper


def _run_step_spec(
    dbos_step_options: StepOptions | None, func: Callable[..., Any], is_async: bool
) -> tuple[StepSpec, Callable[..., Any]]:
    options: dict[str, Any] = dict(dbos_step_options or {})
    if not callable(func):
        raise DBOSException(f"run_step needs a callable, got {func!r}")
    name = options.pop("name", None) or getattr(func, "__qualname__", repr(func))
    preempt = bool(options.pop("preemptible", False))
    unknown = set(options) - set(StepOptions.__annotations__)
    if unknown:
        raise DBOSException(f"Unknown step options: {', '.join(sorted(unknown))}")
    if preempt and not is_async:
        raise DBOSException(f"Step {name}: preemptible is only supported on async steps")
    spec = make_step_spec(name, **options, is_async=is_async)
    return spec, _step_callable(func, spec, options.get("timeout_seconds"), preempt)


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
        """Make a function (sync or ``async def``) a durable workflow."""
        if max_recovery_attempts is not None and (
            not isinstance(max_recovery_attempts, int) or max_recovery_attempts < 0
        ):
            raise DBOSException("max_recovery_attempts must be None or an integer >= 0")

        def decorator(func: F) -> F:
            roles = getattr(func, ROLES_ATTRIBUTE, None)
            info = WorkflowInfo(
                name=name or func.__qualname__,
                func=func,
                kind="workflow",
                looks_like_method=_first_parameter(func) in ("self", "cls"),
                required_roles=roles,
                explicit_roles=roles is not None,
                max_recovery_attempts=max_recovery_attempts,
                serialization_type=serialization_type,
                validate_args=resolve_validator(validate_args, func),
                source=_source_of(func),
                is_async=inspect.iscoroutinefunction(func),
            )
            wrapper = _workflow_wrapper(info)
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
        """Make a function (sync or ``async def``) a checkpointed step of its workflows."""

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
            if preemptible and not is_async:
                raise DBOSException(
                    f"Step {spec.name}: preemptible is only supported on async steps"
                )
            call = _step_callable(func, spec, timeout_seconds, preemptible)
            wrapper = _step_wrapper(func, spec, call)
            _register_step_as_workflow(wrapper, spec, func)
            return wrapper  # type: ignore[no-any-return]

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
        refuse_in_event_loop("run_step")
        spec, call = _run_step_spec(dbos_step_options, func, is_async=False)
        execution = context.current_execution()
        if execution is None:
            return func(*args, **kwargs)
        return run_sync(step_flow(require_runtime(spec.name), execution, spec, call, args, kwargs))

    @classmethod
    async def run_step_async(
        cls,
        dbos_step_options: StepOptions | None,
        func: Callable[..., Any],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """Run ``func`` as a checkpointed step; a sync ``func`` runs on a worker thread."""
        if not inspect.iscoroutinefunction(func) and callable(func):
            sync_func = func

            @functools.wraps(sync_func)  # the step keeps the function's own name
            async def func(*a: Any, **kw: Any) -> Any:
                return await asyncio.to_thread(sync_func, *a, **kw)

        spec, call = _run_step_spec(dbos_step_options, func, is_async=True)
        execution = context.current_execution()
        if execution is None:  # a plain call: timeouts and preemption are inert here
            return await func(*args, **kwargs)
        return await run_async(
            step_flow(require_runtime(spec.name), execution, spec, call, args, kwargs)
        )
