"""CallerTransaction: the stores, run inside a transaction someone else holds and commits.

DBOSClient.enqueue_in_transaction and send_in_transaction write through the caller's own
SQLAlchemy Connection (or Session) on the system database, so that the workflow or the
message commits, or rolls back, with the caller's other writes. The stores are the usual
ones, over a Backend whose every statement runs on that connection: the same SQL, the same
rules, and nothing here ever commits. Statements go through ``exec_driver_sql`` in the
driver's own parameter style, which is what the dialect compiled them to (``?`` for
sqlite3, ``%s`` for psycopg and the other Postgres drivers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from sqlalchemy.engine import Connection as SQLAlchemyConnection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dbos._storage.backend import (
    Connection,
    DuplicateKey,
    Listener,
    MissingReference,
    Params,
    Row,
    Statement,
    fetch_rows,
)
from dbos._storage.dialect import Dialect
from dbos._storage.messages import MessageStore
from dbos._storage.steps import StepStore
from dbos._storage.workflows import WorkflowStore

T = TypeVar("T")
# The SQLAlchemy dialect names of each of our dialects.
_SQLALCHEMY_NAMES = {"sqlite": "sqlite", "postgres": "postgresql"}
_UNIQUE_VIOLATION, _FOREIGN_KEY_VIOLATION = "23505", "23503"


class _Rows:
    """What fetch_rows reads from a cursor, from an already fetched result."""

    def __init__(self, rows: list[Row] | None) -> None:
        self.description = None if rows is None else ()
        self._rows = rows or []

    def fetchall(self) -> list[Row]:
        return self._rows

    def fetchone(self) -> Row | None:
        return self._rows[0] if self._rows else None


def _constraint_error(exc: IntegrityError) -> Exception:
    """The backend-neutral form of a constraint failure, whichever driver raised it."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    text = str(exc.orig)
    if code == _UNIQUE_VIOLATION or "UNIQUE constraint" in text:
        return DuplicateKey(text)
    if code == _FOREIGN_KEY_VIOLATION or "FOREIGN KEY constraint" in text:
        return MissingReference(text)
    return exc


class _CallerConnection:
    """A store's Connection over the caller's SQLAlchemy connection."""

    def __init__(self, connection: SQLAlchemyConnection) -> None:
        self._connection = connection

    def execute(self, query: Any, params: Any = ()) -> _Rows:
        try:
            # A tuple: exec_driver_sql would take a list of parameters as an executemany.
            result = self._connection.exec_driver_sql(query, tuple(params))
        except IntegrityError as exc:
            raise _constraint_error(exc) from exc
        return _Rows([tuple(r) for r in result.fetchall()] if result.returns_rows else None)


class _CallerBackend:
    """A Backend whose every statement runs in the caller's open transaction, uncommitted."""

    def __init__(self, dialect: Dialect, connection: SQLAlchemyConnection) -> None:
        # The caller's transaction may stay open long, and may read from an old snapshot:
        # its writes must not hold the listener registry's lock, nor miss a registration.
        self.dialect = replace(dialect, notifies_always=dialect.notifies)
        self._conn = _CallerConnection(connection)

    def read_one(self, query: str, params: Params = ()) -> Row | None:
        return self._conn.execute(query, params).fetchone()

    def read_all(self, query: str, params: Params = ()) -> list[Row]:
        return fetch_rows(self._conn.execute(query, params))

    def read_rows(self, query: str, params: Params = ()) -> list[Row]:
        return self.read_all(query, params)

    def write_one(
        self,
        query: str,
        params: Params = (),
        *,
        rerun: tuple[str, Params] | None = None,
        shareable: bool = False,
    ) -> list[Row]:
        # No retries here, so never a rerun: a lost connection fails the caller's transaction.
        return self.read_all(query, params)

    def transact(self, fn: Callable[[Connection], T]) -> T:
        return fn(self._conn)

    def write_batch(self, statements: Sequence[Statement], *, shareable: bool = False) -> list[Row]:
        results = [self.read_all(query, params) for query, params in statements]
        return results[0] if results else []

    def close(self) -> None:
        return None  # the connection is the caller's

    def external_commits(self) -> int | None:
        return None

    def listen(self, channels: Sequence[str]) -> Listener | None:
        return None


class CallerTransaction:
    """The stores that can write inside a caller's transaction: workflows and messages."""

    def __init__(self, dialect: Dialect, conn_or_session: object) -> None:
        """Raises TypeError unless given a Connection or Session on ``dialect``'s kind of DB."""
        connection = conn_or_session
        if isinstance(conn_or_session, Session):
            connection = conn_or_session.connection()  # the session's, in its transaction
        if not isinstance(connection, SQLAlchemyConnection):
            raise TypeError(
                "expected a SQLAlchemy Connection or Session on the system database, "
                f"got {type(conn_or_session).__name__}"
            )
        if connection.dialect.name != _SQLALCHEMY_NAMES[dialect.name]:
            raise TypeError(
                f"the connection is to a {connection.dialect.name} database, but the system "
                f"database is {dialect.name}"
            )
        backend = _CallerBackend(dialect, connection)
        self.workflows = WorkflowStore(backend)
        self.messages = MessageStore(backend, StepStore(backend))
