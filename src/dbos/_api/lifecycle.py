"""DBOS lifecycle and the composition root: construct, launch, destroy, reset.

This is the one place that picks a storage backend (through ``_storage.factory``) and wires
storage, runtime and services together.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from importlib import metadata
from typing import TYPE_CHECKING, Any

from dbos._api.state import state
from dbos._core.settings import InvalidSettings, Settings, process_config
from dbos._core.versioning import (
    PATCHING_VERSION,
    compute_application_version,
    fallback_application_version,
)
from dbos._error import DBOSInitializationError
from dbos._runtime.effects import set_offloader
from dbos._runtime.event_loop import LoopRunner
from dbos._runtime.recovery import recover_pending_workflows
from dbos._runtime.registry import Registry, discard_global_registry, global_registry
from dbos._runtime.runtime import Runtime
from dbos._services.notifier import NotifierService
from dbos._services.queue_announcer import QueueAnnouncerService
from dbos._services.queue_runner import QueueRunnerService
from dbos._services.scheduler import SchedulerService
from dbos._storage import factory
from dbos._storage.migrator import SchemaError
from dbos.config import DBOSConfig

if TYPE_CHECKING:
    from dbos._storage.app_database import ApplicationDatabase

logger = logging.getLogger("dbos")
# How often a waiter re-reads the database when a notifier wakes it on other processes'
# writes: only notifications lost to a dropped listener connection wait this long.
NOTIFIED_RECHECK_SECONDS = 5.0


def package_version() -> str:
    try:
        return metadata.version("dbos")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def configure_logging(level: str) -> None:
    logger.setLevel(level)
    if not any(getattr(h, "_dbos_handler", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s [%(levelname)8s] (dbos:%(filename)s:%(lineno)s) %(message)s"
            )
        )
        handler._dbos_handler = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False


def configured_app_version(settings: Settings) -> str | None:
    """The version fixed by the environment or configuration, if any (spec order)."""
    env_version = os.environ.get("DBOS__APPVERSION")
    if os.environ.get("DBOS__CLOUD") == "true" and env_version:
        return env_version
    if settings.application_version:
        return settings.application_version
    if settings.enable_patching:
        return PATCHING_VERSION
    return env_version or None


def computed_app_version(settings: Settings, registry: Registry) -> str:
    sources = registry.sources()
    readable = [source for source in sources if source is not None]
    if len(readable) != len(sources):  # a digest that skipped code would not track it
        return fallback_application_version(settings.app_name)
    return compute_application_version(readable, package_version(), settings.app_name)


def open_application_database(settings: Settings) -> ApplicationDatabase | None:
    """The application database of @DBOS.transaction, or None when none is configured."""
    if settings.application_database_url is None:
        return None
    return factory.open_application_database(
        settings.application_database_url, engine_kwargs=settings.db_engine_kwargs
    )


def open_database(settings: Settings) -> Any:
    try:
        db = factory.open_system_database(
            settings.system_database_url,
            schema=settings.schema,
            pool_size=settings.sys_db_pool_size,
            sqlite_synchronous=settings.sqlite_synchronous,
            create=settings.run_migrations,
        )
    except SchemaError as exc:
        raise DBOSInitializationError(str(exc)) from exc
    try:
        if settings.run_migrations:
            db.migrator.migrate()
        else:
            db.migrator.verify()
    except SchemaError as exc:
        db.close()
        raise DBOSInitializationError(str(exc)) from exc
    except BaseException:
        db.close()
        raise
    return db


class LifecycleAPI:
    """Constructing, launching and destroying the process-wide DBOS instance."""

    _settings: Settings
    _initialized: bool = False
    _queue_runner: QueueRunnerService | None = None
    _notifier: NotifierService | None = None
    _announcer: QueueAnnouncerService | None = None
    _scheduler: SchedulerService | None = None

    def __new__(
        cls,
        *,
        config: DBOSConfig,
        fastapi: Any = None,
        flask: Any = None,
        conductor_url: str | None = None,
        conductor_key: str | None = None,
    ) -> Any:
        if state.instance is None:
            state.instance = super().__new__(cls)
        return state.instance

    def __init__(
        self,
        *,
        config: DBOSConfig,
        fastapi: Any = None,
        flask: Any = None,
        conductor_url: str | None = None,
        conductor_key: str | None = None,
    ) -> None:
        if self._initialized:
            return  # the singleton keeps its first configuration
        try:
            self._settings = process_config(config)
        except InvalidSettings as exc:
            state.instance = None  # a half-initialised singleton must not linger
            raise DBOSInitializationError(str(exc)) from exc
        configure_logging(self._settings.log_level)
        if self._settings.unknown_keys:
            logger.warning(
                "Ignoring unknown configuration keys: %s", ", ".join(self._settings.unknown_keys)
            )
        self._initialized = True

    @classmethod
    def launch(cls) -> None:
        """Connect to the system database, migrate it, recover pending workflows, start work."""
        instance = state.instance
        if instance is None:
            logger.warning("DBOS.launch() called before DBOS(config=...) was constructed")
            return
        if state.runtime is not None:
            logger.info("DBOS was already launched")
            return
        try:
            instance._launch()
        except Exception:
            logger.exception("DBOS failed to launch")
            raise

    def _launch(self) -> None:
        settings = self._settings
        registry = global_registry()
        app_version = configured_app_version(settings) or computed_app_version(settings, registry)
        executor_id = settings.executor_id or os.environ.get("DBOS__VMID") or "local"
        db = open_database(settings)
        app_db = None
        try:
            db.versions.register(app_version, settings.app_name, time.time_ns() // 1_000_000)
            app_db = open_application_database(settings)
            rt = Runtime(settings, db, registry, app_version=app_version, executor_id=executor_id)
            # Async workflows nobody awaits run on the caller's loop if launch() runs in one.
            rt.loop_runner = LoopRunner(asyncio._get_running_loop())
            set_offloader(rt.storage_threads.call)
            rt.app_db = app_db
            runner = QueueRunnerService(rt, rt.queue_catalog.served)
            rt.wake_queues = runner.wake
            state.runtime = rt
            self._queue_runner = runner
            # Recovery first (spec 1.2: step 8 before 9): it re-enqueues this executor's
            # PENDING rows, and once the runner runs, rows it has just claimed are PENDING
            # for this executor too. Re-enqueueing those would let another process claim
            # them while this one runs them.
            recover_pending_workflows(rt)
            runner.start()
            self._announcer = QueueAnnouncerService(rt)
            self._announcer.start()
            self._notifier = NotifierService(rt, listen=settings.use_listen_notify)
            if self._notifier.active:
                # Other processes' writes wake waiters here; re-reading is only a safety net.
                rt.wait_recheck_seconds = NOTIFIED_RECHECK_SECONDS
            self._notifier.start()
            # Last (spec 1.2 step 11): a firing enqueues work for the runner started above.
            self._scheduler = SchedulerService(rt)
            rt.schedules_changed = self._scheduler.wake
            self._scheduler.start()
        except BaseException:
            state.runtime = None
            self._stop_services()  # nothing a failed launch started may linger
            if "rt" in locals():
                set_offloader(None)
                rt.shutdown()
            if app_db is not None:
                app_db.close()
            db.close()
            raise
        logger.info("DBOS launched!")

    def _stop_services(self) -> None:
        # The scheduler first (spec 1.3): nothing is enqueued while the rest stops.
        for service in (self._scheduler, self._notifier, self._queue_runner, self._announcer):
            if service is not None:
                service.stop()
        self._scheduler = None
        self._notifier = self._queue_runner = self._announcer = None

    @classmethod
    def destroy(
        cls, *, destroy_registry: bool = False, workflow_completion_timeout_sec: int = 0
    ) -> None:
        """Stop background work and close the system database; the next DBOS(...) is new."""
        instance, rt = state.instance, state.runtime
        if instance is not None:
            instance._stop_services()
        if rt is not None:
            deadline = time.monotonic() + max(0, workflow_completion_timeout_sec)
            while rt.active_count() and time.monotonic() < deadline:
                time.sleep(0.05)
            set_offloader(None)
            rt.shutdown()
            rt.db.close()
            if rt.app_db is not None:
                rt.app_db.close()
        state.runtime = None
        state.instance = None
        if destroy_registry:
            discard_global_registry()
        if instance is not None:
            logger.info("DBOS successfully shut down")

    @classmethod
    def reset_system_database(
        cls,
        *,
        system_database_url: str | None = None,
        schema: str | None = None,
        truncate: bool = False,
    ) -> None:
        """Delete the system database (or empty it, with ``truncate``). Meant for tests."""
        instance = state.instance
        if instance is not None:
            assert state.runtime is None, "reset_system_database cannot be called after launch"
            system_database_url = system_database_url or instance._settings.system_database_url
            schema = schema or instance._settings.schema
        if system_database_url is None:
            logger.warning(
                "reset_system_database: no DBOS instance and no URL given; nothing reset"
            )
            return
        factory.reset_system_database(
            system_database_url, schema=schema or "dbos", truncate=truncate
        )
