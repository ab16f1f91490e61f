"""The ``DBOSConfig`` dictionary users pass to ``DBOS(config=...)``."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from dbos._core.serialization import Serializer


class DBOSConfig(TypedDict, total=False):
    """Configuration for a DBOS application; only ``name`` is required.

    Keys that belong to features not built yet are accepted and stored; the user guide
    (docs/configuration.md) says which ones take effect.
    """

    name: str
    system_database_url: str | None
    application_database_url: str | None
    database_url: str | None
    sys_db_pool_size: int | None
    sys_db_polling_concurrency: int | None
    db_engine_kwargs: dict[str, Any] | None
    log_level: str | None
    otlp_log_level: str | None
    console_log_level: str | None
    otlp_traces_endpoints: list[str] | None
    otlp_logs_endpoints: list[str] | None
    admin_port: int | None
    run_admin_server: bool | None
    otlp_attributes: dict[str, str] | None
    application_version: str | None
    executor_id: str | None
    dbos_system_schema: str | None
    enable_otlp: bool | None
    system_database_engine: Any
    conductor_key: str | None
    conductor_url: str | None
    conductor_executor_metadata: dict[str, Any] | None
    serializer: Serializer | None
    enable_patching: bool | None
    use_listen_notify: bool | None
    run_migrations: bool | None
    max_executor_threads: int | None
    notification_listener_polling_interval_sec: float | None
    notification_coalesce_sec: float | None
    scheduler_polling_interval_sec: float | None
    kafka_queue_polling_interval_sec: float | None
    otel_attribute_format: Literal["legacy", "semconv"] | None
    # Our extension: SQLite durability. "FULL" (the default) fsyncs every commit; "NORMAL"
    # may lose the last commits on power loss (never on a process crash) and is faster.
    sqlite_synchronous: Literal["FULL", "NORMAL"] | None
