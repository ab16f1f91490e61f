"""The application database: the SQLAlchemy engine transactions run in, and transaction_outputs.

``@DBOS.transaction`` runs user code in a SQLAlchemy session on this engine and records its
outcome in ``transaction_outputs`` inside the same database transaction, so the user's writes
and the record of them commit, or vanish, together.

Isolation levels. Postgres runs each transaction at the level the decorator asks for. SQLite
has one writer at a time, so every SQLite transaction is serializable whatever level is asked
for (the SQL standard lets a database give a stronger level than requested). Each begins with
``BEGIN IMMEDIATE``, taking the write lock up front: every DBOS transaction writes (its output
row at least), and a transaction that read first and writes later can fail to upgrade its lock
("database is locked") in a way no busy timeout cures; taken at BEGIN, concurrent transactions
simply queue.

SQLAlchemy is imported only here, and this module only when an application database is
configured, so ``import dbos`` does not pay for it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, InvalidRequestError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool

from dbos._storage.records import TransactionOutput

SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
POSTGRES_SCHEMA = "dbos"
# Engine defaults that db_engine_kwargs may override. No pool_pre_ping: it would cost a round
# trip per checkout, and a connection that died in the pool fails as a retriable error anyway.
_POOL_DEFAULTS: Mapping[str, Any] = {"pool_size": 20, "max_overflow": 0, "pool_timeout": 30}
_POSTGRES_CONNECT_TIMEOUT = 10
_POSTGRES_ONLY_CONNECT_ARGS = ("application_name", "connect_timeout")
# Execution option naming how a SQLite transaction begins (IMMEDIATE unless a read says so).
_SQLITE_BEGIN = "dbos_sqlite_begin"
# Serialises creating the table across processes launching at once (any fixed key).
_DDL_LOCK_KEY = 1_234_567_891
# Workflow IDs per DELETE: within SQLite's limit on parameters.
_ID_CHUNK = 4096

# SQLSTATEs a retry can cure: serialization failure and deadlock, and the classes meaning the
# server or the link is away: connection exception (08), insufficient resources (53),
# operator intervention (57).
_RETRIABLE_STATES = ("40001", "40P01")
_RETRIABLE_CLASSES = ("08", "53", "57")
_SQLITE_RETRIABLE_MESSAGES = ("database is locked", "database table is locked", "busy")

# ------------------------------------------------------------------ queries
# {t} is the table: "dbos".transaction_outputs on Postgres, unqualified on SQLite.

# One outcome per (workflow, function ID). Created at launch when missing.
CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS {t} (
    workflow_uuid TEXT NOT NULL,
    function_id INTEGER NOT NULL,
    output TEXT,
    error TEXT,
    txn_id TEXT,
    txn_snapshot TEXT,
    executor_id TEXT,
    function_name TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workflow_uuid, function_id)
)
"""

# For garbage-collecting old outcomes by age.
CREATE_INDEX = """
CREATE INDEX IF NOT EXISTS transaction_outputs_created_at_index ON {t} (created_at)
"""

# The outcome row. DO NOTHING rather than a unique violation, so that a duplicate does not
# abort the user's Postgres transaction: the caller sees no row inserted and rolls back.
# On Postgres the row also names the transaction and its snapshot, for debugging.
INSERT_OUTPUT = """
INSERT INTO {t} (workflow_uuid, function_id, function_name, output, error, executor_id,
    created_at, txn_id, txn_snapshot)
VALUES (:workflow_id, :function_id, :function_name, :output, :error, :executor_id,
    :created_at, {txn_id}, {txn_snapshot})
ON CONFLICT (workflow_uuid, function_id) DO NOTHING
"""

# A replay's second chance: the outcome committed here although its checkpoint never reached
# the system database.
GET_OUTPUT = """
SELECT function_name, output, error, executor_id, created_at FROM {t}
WHERE workflow_uuid = :workflow_id AND function_id = :function_id
"""

# Management: deleting a workflow deletes its outcomes; a rewind deletes those from its start
# step on; garbage collection deletes old ones except those of workflows still active.
DELETE_OUTPUTS = "DELETE FROM {t} WHERE workflow_uuid IN :workflow_ids"
DELETE_OUTPUTS_FROM = "DELETE FROM {t} WHERE workflow_uuid = :workflow_id AND function_id >= :step"
DELETE_OLD_OUTPUTS = "DELETE FROM {t} WHERE created_at < :cutoff"
OLD_OUTPUT_WORKFLOWS = "SELECT DISTINCT workflow_uuid FROM {t} WHERE created_at < :cutoff"
DELETE_OLD_OUTPUTS_EXCEPT = (
    "DELETE FROM {t} WHERE created_at < :cutoff AND workflow_uuid NOT IN :keep"
)

_COMMIT_HINT = (
    "DBOS.sql_session.{method}() must not be called inside a @DBOS.transaction: DBOS commits "
    "the transaction, together with the record of its output, when the function returns, and "
    "rolls it back when the function raises. Return normally to commit; raise to roll back "
    "(use session.begin_nested() to undo only part of the work)."
)


class TransactionSession(Session):
    """The session ``DBOS.sql_session`` gives: only DBOS may end its transaction."""

    def commit(self) -> None:
        raise InvalidRequestError(_COMMIT_HINT.format(method="commit"))

    def rollback(self) -> None:
        raise InvalidRequestError(_COMMIT_HINT.format(method="rollback"))


def retriable_error(exc: BaseException) -> bool:
    """Whether running the transaction again can succeed where this attempt failed.

    True for serialization failures and deadlocks, a lost or refused connection, an exhausted
    pool, and SQLite's "database is locked"; false for anything the user's code got wrong.
    """
    if isinstance(exc, PoolTimeoutError):
        return True
    cause: BaseException = exc
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        cause = exc.orig if isinstance(exc.orig, BaseException) else exc
    state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if isinstance(state, str) and state:
        return state in _RETRIABLE_STATES or state[:2] in _RETRIABLE_CLASSES
    if isinstance(cause, psycopg.OperationalError):
        return True  # no SQLSTATE: the server never answered
    if isinstance(cause, sqlite3.OperationalError):
        message = str(cause).lower()
        return any(text in message for text in _SQLITE_RETRIABLE_MESSAGES)
    return False


def engine_url(url: str) -> URL:
    """The URL SQLAlchemy connects with: every Postgres URL goes through psycopg 3."""
    parsed = make_url(url)
    if parsed.get_backend_name() in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    return parsed


def _is_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def _pool_defaults(url: URL, poolclass: object) -> dict[str, Any]:
    if poolclass is not None and not (
        isinstance(poolclass, type) and issubclass(poolclass, QueuePool)
    ):
        return {}  # NullPool, StaticPool and the like take no sizing arguments
    if _is_memory(url):
        return {}  # SQLAlchemy gives in-memory SQLite a SingletonThreadPool
    return dict(_POOL_DEFAULTS)


def _url_connect_timeout(url: URL) -> int:
    value: Any = url.query.get("connect_timeout")
    if isinstance(value, tuple):
        value = value[0] if value else None
    try:
        return int(value) if value else _POSTGRES_CONNECT_TIMEOUT
    except ValueError:
        return _POSTGRES_CONNECT_TIMEOUT


def engine_options(url: URL, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """``create_engine`` keyword arguments: ``db_engine_kwargs`` merged over our defaults.

    ``connect_args`` merge key by key; a pool class that takes no sizing drops the pool
    defaults; the Postgres-only connect arguments are dropped for SQLite.
    """
    user = dict(overrides or {})
    user_connect = dict(user.pop("connect_args", None) or {})
    connect: dict[str, Any]
    if url.get_backend_name() == "sqlite":
        connect = {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
        for key in _POSTGRES_ONLY_CONNECT_ARGS:
            user_connect.pop(key, None)
    else:
        # The URL's own connect_timeout would lose to connect_args, so the default adopts it.
        connect = {
            "application_name": "dbos_transact",
            "connect_timeout": _url_connect_timeout(url),
        }
    options = {**_pool_defaults(url, user.get("poolclass")), **user}
    options["connect_args"] = {**connect, **user_connect}
    return options


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver would begin transactions itself, lazily, at the first write; DBOS begins
    # them explicitly (below) so a transaction's reads are inside it too.
    dbapi_connection.isolation_level = None


def _sqlite_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get(_SQLITE_BEGIN, "IMMEDIATE")
    conn.exec_driver_sql(f"BEGIN {mode}")


class ApplicationDatabase:
    """The application database behind ``@DBOS.transaction``.

    Contract: ``transaction`` commits exactly when its block exits normally; an outcome
    written with ``insert_output`` inside that block commits with the user's writes or not
    at all; ``get_output`` reads what committed.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        if self.is_sqlite:
            table, txn_id, txn_snapshot = "transaction_outputs", "NULL", "NULL"
            event.listen(engine, "connect", _sqlite_connect)
            event.listen(engine, "begin", _sqlite_begin)
        else:
            table = f'"{POSTGRES_SCHEMA}".transaction_outputs'
            txn_id = "CAST(txid_current() AS TEXT)"
            txn_snapshot = "CAST(txid_current_snapshot() AS TEXT)"
        self._insert = sa.text(
            INSERT_OUTPUT.format(t=table, txn_id=txn_id, txn_snapshot=txn_snapshot)
        )
        self._get = sa.text(GET_OUTPUT.format(t=table))
        self._delete_outputs = sa.text(DELETE_OUTPUTS.format(t=table)).bindparams(
            sa.bindparam("workflow_ids", expanding=True)
        )
        self._delete_outputs_from = sa.text(DELETE_OUTPUTS_FROM.format(t=table))
        self._delete_old = sa.text(DELETE_OLD_OUTPUTS.format(t=table))
        self._old_workflows = sa.text(OLD_OUTPUT_WORKFLOWS.format(t=table))
        self._delete_old_except = sa.text(DELETE_OLD_OUTPUTS_EXCEPT.format(t=table)).bindparams(
            sa.bindparam("keep", expanding=True)
        )
        self._ddl = [sa.text(CREATE_TABLE.format(t=table)), sa.text(CREATE_INDEX.format(t=table))]

    @classmethod
    def open(cls, url: str, engine_kwargs: Mapping[str, Any] | None = None) -> ApplicationDatabase:
        """Connect and create ``transaction_outputs`` if it is missing."""
        parsed = engine_url(url)
        if parsed.get_backend_name() == "sqlite" and not _is_memory(parsed) and parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed, **engine_options(parsed, engine_kwargs))
        database = cls(engine)
        try:
            database.create_tables()
        except BaseException:
            engine.dispose()
            raise
        return database

    def create_tables(self) -> None:
        with self.engine.begin() as conn:
            if not self.is_sqlite:
                exists = sa.text(f"SELECT to_regclass('\"{POSTGRES_SCHEMA}\".transaction_outputs')")
                if conn.execute(exists).scalar() is not None:
                    return
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DDL_LOCK_KEY})
                conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{POSTGRES_SCHEMA}"'))
            for statement in self._ddl:
                conn.execute(statement)

    @contextmanager
    def transaction(self, isolation_level: str) -> Iterator[TransactionSession]:
        """A session in one database transaction: committed if the block exits normally."""
        with self.engine.connect() as conn:
            if not self.is_sqlite:
                conn.execution_options(isolation_level=isolation_level)
            with conn.begin():
                session = TransactionSession(bind=conn)
                try:
                    yield session
                    session.flush()  # ORM changes the user left pending belong to this commit
                finally:
                    session.close()

    def insert_output(self, session: Session, output: TransactionOutput) -> bool:
        """Record ``output`` in the session's transaction; False if a row was there first."""
        session.flush()
        result = session.connection().execute(self._insert, output._asdict())
        return bool(result.rowcount == 1)

    def record_error(self, output: TransactionOutput) -> bool:
        """Record a failed transaction's error in a transaction of its own; False if taken."""
        with self.engine.begin() as conn:
            return bool(conn.execute(self._insert, output._asdict()).rowcount == 1)

    def get_output(self, workflow_id: str, function_id: int) -> TransactionOutput | None:
        with self.engine.connect() as conn:
            if self.is_sqlite:
                conn.execution_options(**{_SQLITE_BEGIN: "DEFERRED"})
            else:
                conn.execution_options(isolation_level="AUTOCOMMIT")
            params = {"workflow_id": workflow_id, "function_id": function_id}
            row = conn.execute(self._get, params).first()
        if row is None:
            return None
        name, output, error, executor_id, created_at = row
        return TransactionOutput(
            workflow_id, function_id, name, output, error, executor_id, created_at
        )

    def delete_outputs(self, workflow_ids: list[str]) -> int:
        """Delete the recorded transaction outcomes of these workflows; returns how many."""
        if not workflow_ids:
            return 0
        deleted = 0
        with self.engine.begin() as conn:
            for start in range(0, len(workflow_ids), _ID_CHUNK):
                chunk = workflow_ids[start : start + _ID_CHUNK]
                deleted += conn.execute(self._delete_outputs, {"workflow_ids": chunk}).rowcount
        return deleted

    def delete_outputs_from(self, workflow_id: str, function_id: int) -> int:
        """Delete a workflow's transaction outcomes at ``function_id`` and after (a rewind)."""
        params = {"workflow_id": workflow_id, "step": function_id}
        with self.engine.begin() as conn:
            return int(conn.execute(self._delete_outputs_from, params).rowcount)

    def garbage_collect(self, cutoff_ms: int, keep_workflow_ids: set[str]) -> int:
        """Delete outcomes recorded before ``cutoff_ms``, except those of the kept workflows."""
        if len(keep_workflow_ids) > _ID_CHUNK:
            # Too many to name in one statement: find the old ones' workflows and delete
            # those that are not kept, by name.
            with self.engine.connect() as conn:
                old = conn.execute(self._old_workflows, {"cutoff": cutoff_ms}).scalars().all()
            return self.delete_outputs([w for w in old if w not in keep_workflow_ids])
        with self.engine.begin() as conn:
            if not keep_workflow_ids:
                return int(conn.execute(self._delete_old, {"cutoff": cutoff_ms}).rowcount)
            params = {"cutoff": cutoff_ms, "keep": sorted(keep_workflow_ids)}
            return int(conn.execute(self._delete_old_except, params).rowcount)

    def retriable(self, exc: BaseException) -> bool:
        """Whether another attempt of the transaction that raised ``exc`` can succeed."""
        return retriable_error(exc)

    def close(self) -> None:
        self.engine.dispose()
