"""dbos-config.yaml for the CLI: loading it (with ${VAR} substitution) and resolving URLs."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dbos._core.settings import InvalidSettings, resolve_urls

logger = logging.getLogger("dbos")
CONFIG_FILE = "dbos-config.yaml"
_SECRET = re.compile(r"\$\{DOCKER_SECRET:([^}]+)\}")
_VARIABLE = re.compile(r"\$\{([^}:]+)\}")


class ConfigError(Exception):
    """The project configuration or the database URLs cannot be used."""


@dataclass(frozen=True)
class ProjectConfig:
    name: str | None = None
    database_url: str | None = None
    system_database_url: str | None = None
    migrate: list[str] = field(default_factory=list)
    start: list[str] = field(default_factory=list)


def _secret(match: re.Match[str]) -> str:
    path = Path("/run/secrets") / match.group(1)
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read Docker secret {match.group(1)}: {exc}") from exc


def _variable(match: re.Match[str]) -> str:
    name = match.group(1)
    value = os.environ.get(name)
    if value is None:
        logger.warning("%s is not set; substituting an empty string in %s", name, CONFIG_FILE)
        return ""
    return value


def substitute(text: str) -> str:
    """``${DOCKER_SECRET:NAME}`` from /run/secrets, then ``${VAR}`` from the environment."""
    return _VARIABLE.sub(_variable, _SECRET.sub(_secret, text))


def _commands(value: Any, key: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key} in {CONFIG_FILE} must be a list of shell commands")
    return list(value)


def load_project_config(path: Path | None = None) -> ProjectConfig:
    """The project's dbos-config.yaml, or an empty configuration when there is none."""
    path = path or Path(CONFIG_FILE)
    if not path.exists():
        return ProjectConfig()
    try:
        data = yaml.safe_load(substitute(path.read_text())) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of settings")
    database = data.get("database") or {}
    runtime = data.get("runtimeConfig") or {}
    return ProjectConfig(
        name=data.get("name"),
        database_url=data.get("database_url"),
        system_database_url=data.get("system_database_url"),
        migrate=_commands(database.get("migrate"), "database.migrate"),
        start=_commands(runtime.get("start"), "runtimeConfig.start"),
    )


def database_urls(
    system_database_url: str | None, database_url: str | None, project: ProjectConfig
) -> tuple[str, str | None]:
    """The system and application database URLs a command works on.

    In DBOS Cloud the environment names them; otherwise the flags, then dbos-config.yaml,
    then ``sqlite:///<name>.sqlite`` from the configured application name.
    """
    if os.environ.get("DBOS__CLOUD") == "true":
        system_database_url = os.environ.get("DBOS_SYSTEM_DATABASE_URL") or system_database_url
        database_url = os.environ.get("DBOS_DATABASE_URL") or database_url
    if system_database_url is None and database_url is None:
        system_database_url = project.system_database_url
        database_url = project.database_url
    if system_database_url is None and database_url is None and project.name is None:
        raise ConfigError(
            "Missing database URL: pass --sys-db-url, or set system_database_url (or name) "
            f"in {CONFIG_FILE}"
        )
    settings = {
        "name": project.name or "dbos",
        "system_database_url": system_database_url,
        "database_url": database_url,
    }
    try:
        return resolve_urls(settings)
    except InvalidSettings as exc:
        raise ConfigError(str(exc)) from exc
