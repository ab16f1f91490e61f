"""Read-only context properties: DBOS.workflow_id, DBOS.step_id, DBOS.logger, ..."""

from __future__ import annotations

import logging
import os
from typing import Any

from dbos._api.state import classproperty, state
from dbos._runtime import context
from dbos._runtime.context import StepStatus


def _workflow_id(cls: Any) -> str | None:
    execution = context.enclosing_execution()
    return None if execution is None else execution.workflow_id


def _step_id(cls: Any) -> int | None:
    step = context.current_step()
    return None if step is None else step.step_id


def _step_status(cls: Any) -> StepStatus | None:
    return context.current_step()


def _logger(cls: Any) -> logging.Logger:
    return logging.getLogger("dbos")


def _application_version(cls: Any) -> str:
    if state.runtime is not None:
        return state.runtime.app_version
    instance = state.instance
    if instance is not None and instance._settings.application_version:
        return instance._settings.application_version
    return os.environ.get("DBOS__APPVERSION", "")


def _executor_id(cls: Any) -> str:
    if state.runtime is not None:
        return state.runtime.executor_id
    instance = state.instance
    if instance is not None and instance._settings.executor_id:
        return instance._settings.executor_id
    return os.environ.get("DBOS__VMID", "local")


def _authenticated_user(cls: Any) -> str | None:
    ctx = context.current()
    return None if ctx is None else ctx.authenticated_user


def _authenticated_roles(cls: Any) -> list[str] | None:
    ctx = context.current()
    return None if ctx is None else ctx.authenticated_roles


def _assumed_role(cls: Any) -> str | None:
    ctx = context.current()
    return None if ctx is None else ctx.assumed_role


class PropertiesAPI:
    workflow_id = classproperty(_workflow_id)
    step_id = classproperty(_step_id)
    step_status = classproperty(_step_status)
    logger = classproperty(_logger)
    application_version = classproperty(_application_version)
    executor_id = classproperty(_executor_id)
    authenticated_user = classproperty(_authenticated_user)
    authenticated_roles = classproperty(_authenticated_roles)
    assumed_role = classproperty(_assumed_role)
