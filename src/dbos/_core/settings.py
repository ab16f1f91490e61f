"""Turns a user's DBOSConfig into validated Settings: URL defaulting, name and interval rules."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from dbos._core.serialization import DefaultSerializer, Serializer

_NAME_PATTERN = re.compile(r"^[a-z0-9_-]{3,30}$")
_POSTGRES_SCHEMES = ("postgresql", "postgres")
_KNOWN_KEYS = frozenset(
    {
        "name", "system_database_url", "application_database_url", "database_url",
        "sys_db_pool_size", "sys_db_polling_concurrency", "db_engine_kwargs", "log_level",
        "otlp_log_level", "console_log_level", "otlp_traces_endpoints", "otlp_logs_endpoints",
        "admin_port", "run_admin_server", "otlp_attributes", "application_version",
        "executor_id", "dbos_system_schema", "enable_otlp", "system_database_engine",
        "conductor_key", "conductor_url", "conductor_executor_metadata", "serializer",
        "enable_patching", "use_listen_notify", "run_migrations", "max_executor_threads",
        "notification_listener_polling_interval_sec", "notification_coalesce_sec",
        "scheduler_polling_interval_sec", "kafka_queue_polling_interval_sec",
        "otel_attribute_format", "sqlite_synchronous",
    }
)  # fmt: skip


class InvalidSettings(ValueError):
    """A configuration the library cannot run with; the API raises DBOSInitializationError."""


@dataclass(frozen=True)
class Settings:
    """Everything the runtime reads from configuration, validated and with defaults filled in."""

    app_name: str
    system_database_url: str
    application_database_url: str | None
    # SQLAlchemy engine options for the application database, merged over our defaults.
    db_engine_kwargs: Mapping[str, Any] | None = None
    sys_db_pool_size: int = 20
    sys_db_polling_concurrency: int = 10
    log_level: str = "INFO"
    application_version: str | None = None
    executor_id: str | None = None
    schema: str = "dbos"
    serializer: Serializer = field(default_factory=DefaultSerializer)
    enable_patching: bool = False
    use_listen_notify: bool = True
    run_migrations: bool = True
    max_executor_threads: int | None = None
    notification_listener_polling_interval_sec: float = 1.0
    notification_coalesce_sec: float = 0.01
    scheduler_polling_interval_sec: float = 30.0
    kafka_queue_polling_interval_sec: float = 1.0
    run_admin_server: bool = False
    admin_port: int = 3001
    sqlite_synchronous: str = "FULL"
    unknown_keys: tuple[str, ...] = ()

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite_url(self.system_database_url)


def is_sqlite_url(url: str) -> bool:
    return url.startswith("sqlite")


def validate_app_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME_PATTERN.fullmatch(name):
        raise InvalidSettings(
            f"Invalid app name {name!r}: app names must be between 3 and 30 characters long "
            "and contain only lowercase letters, digits, dashes and underscores."
        )
    return name


def default_sqlite_url(app_name: str) -> str:
    db_name = app_name.lower().replace("-", "_").replace(" ", "_")
    if db_name[:1].isdigit():
        db_name = "_" + db_name
    return f"sqlite:///{db_name}.sqlite"


def postgres_database_name(url: str) -> str:
    """The database a Postgres URL names; a URL without one is refused."""
    name = urlsplit(url).path.lstrip("/")
    if not name:
        raise InvalidSettings("Database name must be specified in the connection URL")
    return name


def with_database_name(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def _check_url(url: object, key: str) -> str:
    if not isinstance(url, str) or not url.strip():
        raise InvalidSettings(f"{key} must be a non-empty database URL")
    scheme = urlsplit(url).scheme.split("+")[0]
    if scheme == "sqlite":
        if ":memory:" in url or url.rstrip("/") == "sqlite:":
            # Every connection would see its own empty database.
            raise InvalidSettings(f"{key} must name a SQLite file, not an in-memory database")
        return url
    if scheme in _POSTGRES_SCHEMES:
        postgres_database_name(url)
        return url
    raise InvalidSettings(f"{key} {url!r} is neither a sqlite:// nor a postgresql:// URL")


def resolve_urls(config: Mapping[str, Any]) -> tuple[str, str | None]:
    """The system and application database URLs, by the defaulting rules of the DBOS API."""
    app_url = config.get("database_url") or config.get("application_database_url")
    if app_url is not None:
        app_url = _check_url(app_url, "application_database_url")
    sys_url = config.get("system_database_url")
    if sys_url is not None:
        return _check_url(sys_url, "system_database_url"), app_url
    if config.get("system_database_engine") is not None:
        return "postgresql://custom:system@database/engine", app_url
    if app_url is None:
        return default_sqlite_url(config["name"]), None
    if is_sqlite_url(app_url):
        return app_url, app_url
    return with_database_name(app_url, postgres_database_name(app_url) + "_dbos_sys"), app_url


def _interval(config: Mapping[str, Any], key: str, default: float) -> float:
    value = config.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidSettings(f"{key} must be a number of seconds, got {value!r}")
    if not math.isfinite(value) or value < 0.001:
        raise InvalidSettings(f"{key} must be finite and at least 0.001, got {value!r}")
    return float(value)


def _positive_int(config: Mapping[str, Any], key: str, default: int | None) -> int | None:
    value = config.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidSettings(f"{key} must be a positive integer, got {value!r}")
    return value


def _flag(config: Mapping[str, Any], key: str, default: bool) -> bool:
    value = config.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidSettings(f"{key} must be True or False, got {value!r}")
    return value


def _optional_str(config: Mapping[str, Any], key: str) -> str | None:
    value = config.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidSettings(f"{key} must be a string, got {value!r}")
    return value


def process_config(config: object) -> Settings:
    """Validate ``config`` and fill in every default."""
    if not isinstance(config, Mapping):
        raise InvalidSettings(
            f"config must be a DBOSConfig dictionary, got {type(config).__name__}"
        )
    # Unknown keys are reported, not refused: a config written for a newer DBOS release
    # (with keys this one does not have) should still start.
    unknown = tuple(sorted(str(k) for k in set(config) - _KNOWN_KEYS))
    if config.get("system_database_engine") is not None:
        raise InvalidSettings(
            "system_database_engine is not supported: this implementation does not use "
            "SQLAlchemy for the system database; pass system_database_url instead"
        )
    name = validate_app_name(config.get("name"))
    sys_url, app_url = resolve_urls(config)
    pool_size = _positive_int(config, "sys_db_pool_size", 20) or 20
    polling = config.get("sys_db_polling_concurrency")
    if polling is None:
        polling = max(1, pool_size // 2)
    serializer = config.get("serializer") or DefaultSerializer()
    if not isinstance(serializer, Serializer):
        raise InvalidSettings("serializer must be an instance of dbos.Serializer")
    synchronous = (config.get("sqlite_synchronous") or "FULL").upper()
    if synchronous not in ("FULL", "NORMAL"):
        raise InvalidSettings("sqlite_synchronous must be 'FULL' or 'NORMAL'")
    schema = _optional_str(config, "dbos_system_schema") or "dbos"
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", schema):
        raise InvalidSettings(f"dbos_system_schema {schema!r} is not a plain SQL identifier")
    engine_kwargs = config.get("db_engine_kwargs")
    if engine_kwargs is not None and not isinstance(engine_kwargs, Mapping):
        raise InvalidSettings(f"db_engine_kwargs must be a dictionary, got {engine_kwargs!r}")
    executor_id = _optional_str(config, "executor_id")
    if executor_id is not None and not executor_id.strip():
        raise InvalidSettings("executor_id must not be empty")
    return Settings(
        app_name=name,
        system_database_url=sys_url,
        application_database_url=app_url,
        db_engine_kwargs=engine_kwargs,
        sys_db_pool_size=pool_size,
        sys_db_polling_concurrency=int(polling),
        log_level=(_optional_str(config, "log_level") or "INFO").upper(),
        application_version=_optional_str(config, "application_version"),
        executor_id=executor_id,
        schema=schema,
        serializer=serializer,
        enable_patching=_flag(config, "enable_patching", False),
        use_listen_notify=_flag(config, "use_listen_notify", True),
        run_migrations=_flag(config, "run_migrations", True),
        max_executor_threads=_positive_int(config, "max_executor_threads", None),
        notification_listener_polling_interval_sec=_interval(
            config, "notification_listener_polling_interval_sec", 1.0
        ),
        notification_coalesce_sec=_interval(config, "notification_coalesce_sec", 0.01),
        scheduler_polling_interval_sec=_interval(config, "scheduler_polling_interval_sec", 30.0),
        kafka_queue_polling_interval_sec=_interval(config, "kafka_queue_polling_interval_sec", 1.0),
        run_admin_server=_flag(config, "run_admin_server", False),
        admin_port=_positive_int(config, "admin_port", 3001) or 3001,
        sqlite_synchronous=synchronous,
        unknown_keys=unknown,
    )
