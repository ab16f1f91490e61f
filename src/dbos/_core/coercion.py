"""Portable JSON arguments back to the types a workflow's signature asks for.

Portable JSON has no datetime type, so a datetime travels as an RFC-3339 string. When such a
row is executed, arguments annotated ``datetime`` or ``date`` (optionally ``| None``) are
parsed back; everything else is left as it came.
"""

from __future__ import annotations

import datetime as dt
import inspect
import types
import typing
from collections.abc import Callable
from typing import Any


def _target_type(annotation: Any) -> type | None:
    if annotation in (dt.datetime, dt.date):
        return annotation  # type: ignore[no-any-return]
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(options) == 1:
            return _target_type(options[0])
    return None


def _parse(value: Any, target: type) -> Any:
    if not isinstance(value, str):
        return value
    try:
        if target is dt.datetime:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return dt.date.fromisoformat(value)
    except ValueError:
        return value  # not ours to judge: the workflow sees what was sent


def coerce_portable_args(
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    skip_first: bool = False,
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``skip_first`` for methods: their self/cls is not among the stored arguments."""
    try:
        hints = typing.get_type_hints(func)
        parameters = list(inspect.signature(func).parameters.values())[int(skip_first) :]
    except (TypeError, ValueError, NameError):
        return args, kwargs
    targets = {p.name: _target_type(hints.get(p.name)) for p in parameters}
    if not any(targets.values()):
        return args, kwargs
    positional = [
        p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    new_args = tuple(
        _parse(a, targets[positional[i]]) if i < len(positional) and targets[positional[i]] else a  # type: ignore[arg-type]
        for i, a in enumerate(args)
    )
    new_kwargs = {k: _parse(v, targets[k]) if targets.get(k) else v for k, v in kwargs.items()}  # type: ignore[arg-type]
    return new_args, new_kwargs
