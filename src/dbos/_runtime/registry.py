"""The registry of workflow and step functions, by name, that decorators fill at import time."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dbos._core.serialization import WorkflowSerializationFormat
from dbos._core.status import DEFAULT_MAX_RECOVERY_ATTEMPTS
from dbos._error import DBOSConflictingRegistrationError

logger = logging.getLogger("dbos")
TEMP_PREFIX = "<temp>."

ValidateArgs = Callable[[tuple[Any, ...], dict[str, Any]], tuple[tuple[Any, ...], dict[str, Any]]]


@dataclass(frozen=True)
class StepSpec:
    """A step's resolved options."""

    name: str
    retries_allowed: bool = False
    interval_seconds: float = 1.0
    max_attempts: int = 3
    backoff_rate: float = 2.0
    should_retry: Callable[[BaseException], Any] | None = None


@dataclass
class WorkflowInfo:
    """A registered workflow: ``func`` is the user's body, ``wrapper`` what users call."""

    name: str
    func: Callable[..., Any]
    kind: str  # "workflow", or "step" for the <temp> wrapper that runs a lone step
    max_recovery_attempts: int | None = DEFAULT_MAX_RECOVERY_ATTEMPTS
    serialization_type: WorkflowSerializationFormat | None = None
    validate_args: ValidateArgs | None = None
    wrapper: Callable[..., Any] | None = None
    step: StepSpec | None = None
    source: str | None = None
    is_async: bool = False


@dataclass
class Registry:
    workflows: dict[str, WorkflowInfo] = field(default_factory=dict)

    def register(self, info: WorkflowInfo) -> None:
        existing = self.workflows.get(info.name)
        if existing is not None:
            if existing.kind != info.kind:
                raise DBOSConflictingRegistrationError(info.name)
            logger.warning("Duplicate registration of function '%s'", info.name)
        self.workflows[info.name] = info

    def get(self, name: str) -> WorkflowInfo | None:
        return self.workflows.get(name)

    def sources(self) -> list[str | None]:
        """Each registered function's source; None where it could not be read."""
        return [w.source for w in self.workflows.values()]


_global = Registry()


def global_registry() -> Registry:
    return _global


def discard_global_registry() -> None:
    global _global
    _global = Registry()
