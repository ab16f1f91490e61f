"""A DBOSClient's connection: its runtime over the system database and its management service.

The client builds a runtime of its own over the system database (no registry, no executor,
no queue runner) and calls the same flows and the same ManagementService as DBOS does,
outside any workflow context, so nothing it does is ever checkpointed into a workflow that
happens to call it. It never migrates: the system database must exist already.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from dbos._core.serialization import DefaultSerializer, Serializer
from dbos._core.settings import InvalidSettings, process_config
from dbos._error import DBOSException
from dbos._runtime import context
from dbos._runtime.management import ManagementService
from dbos._runtime.registry import Registry
from dbos._runtime.runtime import Runtime
from dbos._services.notifier import NotifierService
from dbos._storage import factory
from dbos._storage.migrator import SchemaError

P = ParamSpec("P")
T = TypeVar("T")
CLIENT_POOL_SIZE = 5


def outside_workflows(method: Callable[P, T]) -> Callable[P, T]:
    """Run a client call with no workflow context: a client's calls are never checkpointed."""

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> T:
        token = context.set_current(None)
        try:
            return method(*args, **kwargs)
        finally:
            context.reset(token)

    return call


def outside_workflows_async(
    method: Callable[P, Coroutine[Any, Any, T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    """The async form of outside_workflows."""

    @functools.wraps(method)
    async def call(*args: P.args, **kwargs: P.kwargs) -> T:
        token = context.set_current(None)
        try:
            return await method(*args, **kwargs)
        finally:
            context.reset(token)

    return call


class ClientConnection:
    """The part of DBOSClient that opens, checks and closes its connection."""

    def __init__(
        self,
        database_url: str | None = None,
        *,
        system_database_url: str | None = None,
        system_database_engine: Any = None,
        application_database_url: str | None = None,
        dbos_system_schema: str | None = "dbos",
        serializer: Serializer = DefaultSerializer(),  # noqa: B008 - stateless, as the spec
        system_database_pool_size: int | None = None,
        system_database_polling_concurrency: int | None = None,
        use_listen_notify: bool = False,
        application_name: str | None = None,
        lazy: bool = False,
        retry_connection_errors: bool = True,
    ) -> None:
        """Connect to a system database that DBOS has already created.

        Args:
            database_url: Deprecated; only used to derive the system database URL.
            system_database_url: The system database (``sqlite:///...`` or
                ``postgresql://...``).
            system_database_engine: A SQLAlchemy engine whose URL names the system database.
            application_database_url: Deprecated; only used to derive the system URL.
            dbos_system_schema: The Postgres schema of the system tables.
            serializer: How workflow inputs, outputs and messages are encoded.
            system_database_pool_size: Connections kept open (default 5).
            system_database_polling_concurrency: Accepted for compatibility.
            use_listen_notify: Wake waits through Postgres LISTEN instead of polling.
            application_name: The application this client acts for: rows it creates
                belong to it and its lists default to it (and to unclaimed rows). Without
                it, rows are unclaimed and lists see every application.
            lazy: Connect on first use instead of now.
            retry_connection_errors: Retry lost connections forever (False: raise).

        Raises:
            DBOSException: A bad URL or argument, or (unless lazy) a database that cannot
                be reached or has no DBOS schema.
        """
        if lazy and use_listen_notify:
            raise DBOSException("DBOSClient cannot be lazy and use LISTEN/NOTIFY at once")
        urls = (system_database_url, database_url, application_database_url)
        if all(url is None for url in urls) and system_database_engine is None:
            raise DBOSException("DBOSClient needs a system_database_url")
        config: dict[str, Any] = {
            "name": application_name or "dbos-client",
            "system_database_url": system_database_url,
            "database_url": database_url or application_database_url,
            "system_database_engine": system_database_engine,
            "dbos_system_schema": dbos_system_schema,
            "serializer": serializer,
            "sys_db_pool_size": system_database_pool_size or CLIENT_POOL_SIZE,
            "sys_db_polling_concurrency": system_database_polling_concurrency,
            "run_migrations": False,
            "log_level": "WARNING",
        }
        try:
            self._settings = process_config(config)
        except InvalidSettings as exc:
            raise DBOSException(str(exc)) from exc
        self._application_name = application_name
        self._use_listen_notify = use_listen_notify
        self._retry_connection_errors = retry_connection_errors
        self._rt: Runtime | None = None
        self._service: ManagementService | None = None
        self._notifier: NotifierService | None = None
        if not lazy:
            self._runtime()

    def _runtime(self) -> Runtime:
        """The client's runtime, opened on first use (at construction unless lazy)."""
        if self._rt is None:
            settings = self._settings
            try:
                db = factory.open_system_database(
                    settings.system_database_url,
                    schema=settings.schema,
                    pool_size=settings.sys_db_pool_size,
                    create=False,
                    retry_connection_errors=self._retry_connection_errors,
                )
            except SchemaError as exc:
                raise DBOSException(str(exc)) from exc
            try:
                db.migrator.verify()  # a client never migrates: the schema must be there
            except SchemaError as exc:
                db.close()
                raise DBOSException(str(exc)) from exc
            rt = Runtime(self._settings, db, Registry(), app_version="", executor_id="")
            # Rows the client creates belong to its application, or to none.
            rt.app_name = self._application_name  # type: ignore[assignment]
            self._service = ManagementService(
                db,
                rt.codec,
                app_name=self._application_name,
                now_ms=rt.clock.now_ms,
                # No runs here to stop and no queue runner to wake; stopping only wakes
                # this client's own waiters, so a handle awaiting a cancelled workflow
                # sees it at once.
                on_stopped=rt.stop_runs,
            )
            self._notifier = NotifierService(rt, listen=self._use_listen_notify)
            if self._notifier.active and (self._use_listen_notify or db.dialect.name == "sqlite"):
                self._notifier.start()
            else:
                self._notifier = None
            self._rt = rt
        return self._rt

    def _management(self) -> ManagementService:
        """The management service over the client's database (the one DBOS and the CLI use)."""
        self._runtime()
        assert self._service is not None
        return self._service

    async def _call_async(self, func: Callable[..., T], *args: Any) -> T:
        """``func(*args)`` on the storage threads, for the async twins of service calls."""
        result: T = await self._runtime().storage_threads.call(func, *args)
        return result

    def check_connection(self) -> None:
        """Raise if the system database cannot be reached."""
        self._runtime().db.migrator.verify()

    def destroy(self) -> None:
        """Close the client's connections; the client cannot be used afterwards."""
        if self._notifier is not None:
            self._notifier.stop()
            self._notifier = None
        rt, self._rt = self._rt, None
        self._service = None
        if rt is not None:
            rt.shutdown()
            rt.db.close()
