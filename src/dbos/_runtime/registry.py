"""The registry of workflow and step functions, by name, that decorators fill at import time."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dbos._core.queue_rules import QueueLimits
from dbos._core.serialization import WorkflowSerializationFormat
from dbos._core.status import DEFAULT_MAX_RECOVERY_ATTEMPTS, INTERNAL_QUEUE
from dbos._error import DBOSConflictingRegistrationError, DBOSException

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
    # Set by @DBOS.dbos_class: the class's registered name and how the method binds.
    class_name: str | None = None
    method_kind: str | None = None  # "instance", "class" or "static"
    # Whether the function's first parameter is named self or cls (to catch methods of a
    # class nobody registered with @DBOS.dbos_class).
    looks_like_method: bool = False
    required_roles: list[str] | None = None
    explicit_roles: bool = False  # set on the function itself, which class defaults never override


@dataclass
class Registry:
    workflows: dict[str, WorkflowInfo] = field(default_factory=dict)
    classes: dict[str, type] = field(default_factory=dict)
    instances: dict[str, object] = field(default_factory=dict)  # "<class>/<config name>"
    queues: dict[str, QueueLimits] = field(default_factory=dict)  # declared in this process
    # The queues DBOS.listen_queues restricted this process to; None: every queue it knows.
    listened_queues: frozenset[str] | None = None
    # @DBOS.scheduled workflows: workflow name -> cron, fired from launch on.
    scheduled: dict[str, str] = field(default_factory=dict)

    def register_queue(self, name: str, limits: QueueLimits) -> None:
        if name in self.queues and name != INTERNAL_QUEUE:
            raise Exception(f"Queue {name} has already been declared")
        self.queues[name] = limits

    def listen(self, names: frozenset[str]) -> None:
        if self.listened_queues is not None:
            raise DBOSException("DBOS.listen_queues can only be called once")
        self.listened_queues = names

    def listens_to(self, name: str) -> bool:
        """Whether this process dequeues from ``name``; the internal queue it always does."""
        listened = self.listened_queues
        return listened is None or name in listened or name == INTERNAL_QUEUE

    def register_class(self, name: str, cls: type) -> None:
        existing = self.classes.get(name)
        if existing is not None and existing is not cls:
            raise DBOSException(f"Class {name} is already registered as a different class")
        self.classes[name] = cls

    def register_instance(self, class_name: str, config_name: str, instance: object) -> None:
        key = f"{class_name}/{config_name}"
        existing = self.instances.get(key)
        if existing is not None and existing is not instance:
            raise DBOSException(
                f"Configured instance {config_name} of class {class_name} is already registered"
            )
        self.instances[key] = instance

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
