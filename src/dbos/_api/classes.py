"""Classes and roles: @DBOS.dbos_class, DBOSConfiguredInstance, required roles, authentication."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from dbos._api.decorators import ROLES_ATTRIBUTE, workflow_info_of
from dbos._api.state import state
from dbos._error import DBOSException
from dbos._runtime import context
from dbos._runtime.registry import WorkflowInfo, global_registry

logger = logging.getLogger("dbos")
C = TypeVar("C", bound=type)
F = TypeVar("F", bound=Callable[..., Any])
CLASS_NAME_ATTRIBUTE = "__dbos_class_name__"
DEFAULT_ROLES_ATTRIBUTE = "__dbos_default_required_roles__"


def _method_infos(cls: type) -> list[tuple[WorkflowInfo, str]]:
    """Every DBOS function defined on ``cls``, with how it binds."""
    found = []
    for attribute in vars(cls).values():
        if isinstance(attribute, staticmethod):
            func, kind = attribute.__func__, "static"
        elif isinstance(attribute, classmethod):
            func, kind = attribute.__func__, "class"
        elif callable(attribute):
            func, kind = attribute, "instance"
        else:
            continue
        info = workflow_info_of(func)
        if info is not None:
            found.append((info, kind))
    return found


def _apply_default_roles(cls: type) -> None:
    roles = getattr(cls, DEFAULT_ROLES_ATTRIBUTE, None)
    if roles is None:
        return
    for info, _kind in _method_infos(cls):
        if not info.explicit_roles:
            info.required_roles = list(roles)


class DBOSConfiguredInstance:
    """Base class for classes whose instance methods are workflows or steps.

    Each instance is registered under its class's name and ``config_name``, so that a
    workflow recovered from its row runs on the same (configured) instance.
    """

    def __init__(self, config_name: str) -> None:
        if not isinstance(config_name, str) or not config_name:
            raise DBOSException("config_name must be a non-empty string")
        self.config_name = config_name
        class_name = getattr(type(self), CLASS_NAME_ATTRIBUTE, type(self).__qualname__)
        global_registry().register_instance(class_name, config_name, self)
        if state.runtime is not None:
            logger.warning(
                "Configured instance %s/%s was created after DBOS launched; workflows on it "
                "that were pending at launch could not be recovered",
                class_name,
                config_name,
            )


class ClassesAPI:
    @classmethod
    def dbos_class(cls, class_name: str | None = None) -> Callable[[C], C]:
        """Register a class whose methods are DBOS workflows or steps."""

        def decorator(target: C) -> C:
            name = class_name or target.__qualname__
            global_registry().register_class(name, target)
            setattr(target, CLASS_NAME_ATTRIBUTE, name)
            for info, kind in _method_infos(target):
                info.class_name, info.method_kind = name, kind
            _apply_default_roles(target)
            return target

        return decorator

    @classmethod
    def required_roles(cls, roles: list[str]) -> Callable[[F], F]:
        """Only callers authenticated with one of ``roles`` may call the function."""
        _check_roles(roles)

        def decorator(func: F) -> F:
            info = workflow_info_of(func)
            if info is not None:  # applied above @DBOS.workflow
                info.required_roles, info.explicit_roles = list(roles), True
            else:  # applied below: the workflow decorator reads it
                setattr(func, ROLES_ATTRIBUTE, list(roles))
            return func

        return decorator

    @classmethod
    def default_required_roles(cls, roles: list[str]) -> Callable[[C], C]:
        """Roles for every method of a class that does not name its own."""
        _check_roles(roles)

        def decorator(target: C) -> C:
            setattr(target, DEFAULT_ROLES_ATTRIBUTE, list(roles))
            _apply_default_roles(target)
            return target

        return decorator

    @classmethod
    def set_authentication(
        cls, authenticated_user: str | None, authenticated_roles: list[str] | None
    ) -> None:
        """Set the user and roles of the current context (see DBOSContextSetAuth)."""
        ctx = context.ensure()
        ctx.authenticated_user = authenticated_user
        ctx.authenticated_roles = authenticated_roles


def _check_roles(roles: object) -> None:
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise DBOSException("roles must be a list of strings")
