"""Argument validators for ``@DBOS.workflow(validate_args=...)``, built from type hints.

A workflow's arguments are validated only when it runs from its stored row (dequeue,
recovery, resume, fork): those arguments were written by another process, an older version
of the code, or a client in another language, so they may not be what the signature says.

pydantic is an optional dependency (``pip install "dbos[validation]"``). It is imported when a
validator is made, so a missing install fails at decoration, and the type hints are resolved
when the validator is first used, so hints naming classes defined later (the class a method
belongs to, say) work.
"""

from __future__ import annotations

import inspect
import threading
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dbos._error import DBOSException
from dbos._runtime.registry import ValidateArgs

if TYPE_CHECKING:
    from pydantic import TypeAdapter

Args = tuple[Any, ...]
Kwargs = dict[str, Any]

_FAILURE_HEADER = "Argument validation failed for workflow:\n"
# The first parameter of a method is the instance or class, which is never a stored argument.
_BOUND_NAMES = ("self", "cls")


def _require_pydantic() -> None:
    try:
        import pydantic  # noqa: F401 - only checks that it can be imported
    except ImportError as exc:
        raise ImportError(
            "Validating workflow arguments with pydantic requires pydantic>=2: "
            'pip install "dbos[validation]"'
        ) from exc


def pydantic_args_validator(args: Args, kwargs: Kwargs) -> tuple[Args, Kwargs]:
    """Validate a workflow's arguments against its type hints, with pydantic.

    Pass this as ``@DBOS.workflow(validate_args=pydantic_args_validator)``: the decorator
    replaces it with ``make_pydantic_args_validator(func)`` for the decorated function.
    Called directly it cannot know which function's hints to use, and raises.

    Raises:
        DBOSException: Always; it stands for a validator and is never one itself.
    """
    raise DBOSException(
        "pydantic_args_validator only marks a workflow for validation: pass it as "
        "@DBOS.workflow(validate_args=pydantic_args_validator), or build a validator for a "
        "function with make_pydantic_args_validator(func)"
    )


def resolve_validator(
    validate_args: ValidateArgs | None, func: Callable[..., Any]
) -> ValidateArgs | None:
    """The validator a workflow decorator stores: the pydantic marker becomes a real one."""
    if validate_args is pydantic_args_validator:
        return make_pydantic_args_validator(func)
    return validate_args


def make_pydantic_args_validator(func: Callable[..., Any]) -> ValidateArgs:
    """Build a validator that coerces ``func``'s arguments to its type hints, with pydantic.

    Each annotated parameter gets a ``pydantic.TypeAdapter`` (``self`` and ``cls`` of methods
    are skipped; unannotated parameters pass through). Values are coerced as pydantic does
    in lax mode, so the string ``"3"`` becomes ``3`` for an ``int`` parameter. Arguments keep
    their shape: positional stay positional, keywords stay keywords, and defaults are not
    filled in.

    Args:
        func: The workflow function whose signature and type hints to validate against.

    Returns:
        A callable ``(args, kwargs) -> (args, kwargs)`` for ``validate_args``. It raises a
        ``ValueError`` headed "Argument validation failed for workflow:" with one line for
        each invalid, missing ("Missing required argument: 'x'") or unexpected argument.

    Raises:
        ImportError: pydantic is not installed.
    """
    _require_pydantic()
    return _PydanticArgsValidator(func)


class _PydanticArgsValidator:
    """One TypeAdapter per annotated parameter, built on first use."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self._func = func
        self._lock = threading.Lock()
        self._plan: _Plan | None = None

    def __call__(self, args: Args, kwargs: Kwargs) -> tuple[Args, Kwargs]:
        if self._plan is None:
            with self._lock:
                if self._plan is None:
                    self._plan = _Plan(self._func)
        return self._plan.validate(args, kwargs)


class _Plan:
    """How each argument of one signature is checked."""

    def __init__(self, func: Callable[..., Any]) -> None:
        from pydantic import TypeAdapter

        parameters = list(inspect.signature(func).parameters.values())
        if parameters and parameters[0].name in _BOUND_NAMES:
            parameters = parameters[1:]
        hints = typing.get_type_hints(func, include_extras=True)
        self.adapters: dict[str, TypeAdapter[Any]] = {
            p.name: TypeAdapter(hints[p.name]) for p in parameters if p.name in hints
        }
        kinds = inspect.Parameter
        self.positional = [
            p for p in parameters if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)
        ]
        self.by_keyword = {
            p.name: p
            for p in parameters
            if p.kind in (kinds.POSITIONAL_OR_KEYWORD, kinds.KEYWORD_ONLY)
        }
        self.keyword_only = [p for p in parameters if p.kind == kinds.KEYWORD_ONLY]
        self.var_positional = next((p for p in parameters if p.kind == kinds.VAR_POSITIONAL), None)
        self.var_keyword = next((p for p in parameters if p.kind == kinds.VAR_KEYWORD), None)

    def validate(self, args: Args, kwargs: Kwargs) -> tuple[Args, Kwargs]:
        errors: list[str] = []
        new_args = [self._positional(i, value, errors) for i, value in enumerate(args)]
        passed_positionally = {p.name for p in self.positional[: len(args)]}
        new_kwargs = {
            key: self._keyword(key, value, passed_positionally, errors)
            for key, value in kwargs.items()
        }
        for p in [*self.positional[len(args) :], *self.keyword_only]:
            if p.default is p.empty and p.name not in kwargs:
                errors.append(f"Missing required argument: '{p.name}'")
        if errors:
            raise ValueError(_FAILURE_HEADER + "\n".join(errors))
        return tuple(new_args), new_kwargs

    def _positional(self, index: int, value: Any, errors: list[str]) -> Any:
        if index < len(self.positional):
            return self._check(self.positional[index].name, value, errors)
        if self.var_positional is not None:
            return self._check(self.var_positional.name, value, errors, f"[{index}]")
        if index == len(self.positional):  # report the surplus once, at its first value
            errors.append(f"Too many positional arguments: expected at most {len(self.positional)}")
        return value

    def _keyword(self, key: str, value: Any, passed: set[str], errors: list[str]) -> Any:
        if key in self.by_keyword:
            if key in passed:
                errors.append(f"Multiple values for argument: '{key}'")
                return value
            return self._check(key, value, errors)
        if self.var_keyword is not None:
            return self._check(self.var_keyword.name, value, errors, f"[{key!r}]")
        errors.append(f"Unexpected keyword argument: '{key}'")
        return value

    def _check(self, name: str, value: Any, errors: list[str], where: str = "") -> Any:
        adapter = self.adapters.get(name)
        if adapter is None:
            return value
        from pydantic import ValidationError

        try:
            return adapter.validate_python(value)
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                location = "".join(f"[{part!r}]" for part in error["loc"])
                errors.append(f"Argument '{name}'{where}{location}: {error['msg']}")
            return value
