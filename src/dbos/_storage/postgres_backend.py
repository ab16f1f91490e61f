"""Postgres backend: a psycopg 3 connection pool in autocommit mode."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolClosed

from dbos._storage.backend import (
    Connection,
    DuplicateKey,
    MissingReference,
    Params,
    Row,
    Statement,
    fetch_rows,
)
from dbos._storage.dialect import postgres_dialect
from dbos._storage.postgres_connections import PooledConnections
from dbos._storage.postgres_group_commit import GroupCommitter, GroupNotCommitted
from dbos._storage.postgres_listener import PostgresListener
from dbos._storage.postgres_wire import NotEncodable, PipelineFailed, PreparedStatements

T = TypeVar("T")
logger = logging.getLogger("dbos")

# Batches with more statements than this are not folded into one statement (see write_batch).
_MAX_WITH_CLAUSES = 8
# SQLSTATE classes that mean "the server or the link is away", not "the statement is wrong":
# connection exceptions, insufficient resources, operator intervention.
_RETRIABLE_CLASSES = ("08", "53", "57")
# A protocol violation (08P01) is retried only a few times: the same request gets it again
# when the statement is wrong (parameters that do not fit it), which retrying forever would
# hang on, but a connection pooler such as PgBouncer also reports passing failures with it.
_PROTOCOL_VIOLATION = "08P01"
_PROTOCOL_VIOLATION_RETRIES = 3
_SETS_LOCAL_STATE = "set_config("
# Folded statement texts remembered (see _folded) before the memory starts over.
_MAX_FOLDS = 1024
# Statements with more text than this in their parameters are never grouped.
_MAX_GROUPED_BYTES = 64 * 1024


def conninfo_from_url(url: str) -> str:
    """Turn a URL into libpq conninfo; SQLAlchemy-style ``postgresql+psycopg://`` works too."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    if scheme == "postgres":
        scheme = "postgresql"
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, parts.fragment))


def is_retriable(exc: BaseException, attempt: int = 0) -> bool:
    """Whether the ``attempt``-th retry (from 0) of what raised ``exc`` may go ahead."""
    if isinstance(exc, PoolClosed):
        return False
    if isinstance(exc, psycopg.OperationalError):
        state = getattr(exc, "sqlstate", None)
        if state is None:
            return True
        if state == _PROTOCOL_VIOLATION:
            return attempt < _PROTOCOL_VIOLATION_RETRIES
        return state[:2] in _RETRIABLE_CLASSES
    return False


class PostgresBackend:
    """Postgres backend over a psycopg connection pool.

    Connections stay in autocommit so that a single-statement checkpoint is one round trip
    and one commit; multi-statement writes open an explicit transaction.
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str = "dbos",
        pool_size: int = 20,
        retry_connection_errors: bool = True,
    ) -> None:
        # False: a connection error is raised to the caller instead of retried forever.
        self._retry_connection_errors = retry_connection_errors
        self.dialect = postgres_dialect(schema)
        self.conninfo = conninfo_from_url(url)
        self._pool = ConnectionPool(
            self.conninfo,
            min_size=min(2, pool_size),
            max_size=pool_size,
            kwargs={"autocommit": True, "application_name": "dbos_transact"},
            open=False,
            name="dbos-system",
        )
        self._pool.open(wait=True, timeout=30)
        self._connections = PooledConnections(self._pool)
        self._prepared = PreparedStatements()
        self._folds: dict[tuple[str, ...], str | None] = {}
        self._group = GroupCommitter(self._run_one, self._run_together)

    def _with_retry(self, op: Callable[[], T]) -> T:
        delay, attempt = 1.0, 0
        while True:
            try:
                return op()
            except Exception as exc:
                if not self._retry_connection_errors or not is_retriable(exc, attempt):
                    raise
                # A pooler's passing failure clears fast; a wrong statement should fail fast.
                pause = 0.1 if getattr(exc, "sqlstate", None) == _PROTOCOL_VIOLATION else delay
                logger.warning("System database unreachable (%s); retrying in %.1fs", exc, pause)
                time.sleep(pause * random.uniform(0.5, 1.0))
                delay, attempt = min(delay * 2, 60.0), attempt + 1

    def _run_one(
        self, query: str, params: Params, rerun: tuple[str, Params] | None = None
    ) -> list[Row]:
        """One autocommit statement: the libpq fast path, else psycopg.

        A retry runs ``rerun`` when given: the first attempt may have committed before
        the connection dropped, and only the caller knows how to find out what it did.
        """
        statement = (query, params)

        def op() -> list[Row]:
            nonlocal statement
            text, values = statement
            if rerun is not None:
                statement = rerun
            return self._connections.run(lambda conn: self._execute(conn, text, values))

        return self._constrained(op)

    def _execute(self, conn: psycopg.Connection[Any], query: str, params: Params) -> list[Row]:
        rows = self._prepared.execute(conn, query, params)
        if rows is None:
            rows = fetch_rows(conn.execute(query, params))
        return rows

    def _constrained(self, op: Callable[[], T]) -> T:
        """Run ``op`` with retries, constraint failures in their backend-neutral form."""
        try:
            return self._with_retry(op)
        except psycopg.errors.UniqueViolation as exc:
            raise DuplicateKey(str(exc)) from exc
        except psycopg.errors.ForeignKeyViolation as exc:
            raise MissingReference(str(exc)) from exc

    def read_one(self, query: str, params: Params = ()) -> Row | None:
        rows = self._run_one(query, params)
        return rows[0] if rows else None

    def read_all(self, query: str, params: Params = ()) -> list[Row]:
        return self._run_one(query, params)

    def write_one(
        self,
        query: str,
        params: Params = (),
        *,
        rerun: tuple[str, Params] | None = None,
        shareable: bool = False,
    ) -> list[Row]:
        if shareable and rerun is None and self._groupable(query, params):
            return self._group.run(query, params)
        return self._run_one(query, params, rerun)

    def _groupable(self, query: str, params: Params) -> bool:
        """Whether a shareable statement may share its transaction with others.

        Not one that sets transaction-local state (a quiet enqueue's set_config), which
        would leak into the statements after it in its group; not one the pipeline cannot
        send (it would fail the group, whose writes would all run again alone); not a
        large one, which would hold up every write queued behind its group.
        """
        if _SETS_LOCAL_STATE in query or not self._prepared.can_pipeline(query, params):
            return False
        size = sum(len(p) for p in params if type(p) is str)
        return size <= _MAX_GROUPED_BYTES

    def _run_together(self, statements: Sequence[tuple[str, Params]]) -> list[list[Row]]:
        """Statements in one transaction and one round trip; raises if any fails.

        No retries: the group commit runs each statement alone after a failure.
        """
        try:
            return self._connections.run(lambda conn: self._prepared.pipeline(conn, statements))
        except PipelineFailed as exc:  # rolled back: all but the failed one go again
            raise GroupNotCommitted(str(exc), failed=exc.index) from exc
        except (NotEncodable, psycopg.Error) as exc:
            if isinstance(exc, psycopg.OperationalError) and not self._retry_connection_errors:
                raise  # a lone write is not retried either: each gets the error
            # Not sent, or the connection lost (maybe after COMMIT went out): each runs
            # again alone, which is what a lone write's retry would do.
            raise GroupNotCommitted(str(exc)) from exc

    def read_rows(self, query: str, params: Params = ()) -> list[Row]:
        # psycopg's compiled loaders decode a hundred wide rows in about half the time the
        # libpq fast path takes, which is built for one short row per statement.
        def op() -> list[Row]:
            return self._connections.run(lambda conn: fetch_rows(conn.execute(query, params)))

        return self._with_retry(op)

    def transact(self, fn: Callable[[Connection], T]) -> T:
        def in_transaction(conn: psycopg.Connection[Any]) -> T:
            with conn.transaction():
                return fn(conn)

        return self._constrained(lambda: self._connections.run(in_transaction))

    def write_batch(self, statements: Sequence[Statement], *, shareable: bool = False) -> list[Row]:
        """One statement where possible: the others become data-modifying WITH clauses.

        ``WITH b1 AS (<second>), b2 AS (<third>) <first>`` is one prepared statement, one
        round trip and one commit; an explicit transaction would cost a round trip per
        statement plus BEGIN and COMMIT. Other batches go as one multi-statement message,
        which Postgres also runs as a single transaction.
        """
        if not statements:
            return []
        (first, first_params), rest = statements[0], statements[1:]
        if not rest:
            return self.write_one(first, first_params, shareable=shareable)
        folded = self._folded(tuple(q for q, _ in statements))
        if folded is not None:
            params = [p for _, group in rest for p in group]
            return self.write_one(folded, [*params, *first_params], shareable=shareable)
        query = ";\n".join(q for q, _ in statements)
        all_params = [p for _, group in statements for p in group]

        def run(conn: psycopg.Connection[Any]) -> list[Row]:
            cursor = psycopg.ClientCursor(conn)
            cursor.execute(query, all_params)
            rows = fetch_rows(cursor)
            while cursor.nextset():
                pass
            return rows

        return self._constrained(lambda: self._connections.run(run))

    def _folded(self, queries: tuple[str, ...]) -> str | None:
        """``queries`` as one statement (the first, the others as WITH clauses), if they fold.

        Remembered: a batch of the same statements (a stream value and its checkpoint)
        comes again and again, and building and hashing its text anew costs microseconds.
        """
        try:
            return self._folds[queries]  # one lookup: another thread may clear() meanwhile
        except KeyError:
            pass
        folded: str | None = None
        # WITH clauses run in no defined order: statements repeated in one batch (chunks of
        # one insert, whose rows' insertion order matters) keep their order by running in
        # sequence instead.
        if len(set(queries)) == len(queries) and len(queries) <= _MAX_WITH_CLAUSES:
            clauses = ", ".join(f"b{i} AS ({q})" for i, q in enumerate(queries[1:], start=1))
            folded = f"WITH {clauses}\n{queries[0]}"
        if len(self._folds) >= _MAX_FOLDS:
            self._folds.clear()  # only generated texts could get here; the usual ones return
        self._folds[queries] = folded
        return folded

    def external_commits(self) -> None:
        """Postgres announces other processes' writes through LISTEN/NOTIFY instead."""
        return

    def listen(self, channels: Sequence[str]) -> PostgresListener:
        registry = f"{self.dialect.table_prefix}listeners"
        return PostgresListener(self.conninfo, channels, registry=registry)

    def close(self) -> None:
        self._connections.close()
        self._pool.close(timeout=5)


def database_exists(url: str) -> bool:
    name = urlsplit(conninfo_from_url(url)).path.lstrip("/")
    try:
        with psycopg.connect(conninfo_from_url(url), autocommit=True, connect_timeout=10):
            return True
    except psycopg.OperationalError as exc:
        # Connection errors carry no SQLSTATE; match the database, so a missing *role*
        # ("role x does not exist") is not mistaken for a missing database.
        if f'database "{name}" does not exist' in str(exc):
            return False
        raise


def ensure_database_exists(url: str) -> None:
    """Create the system database when missing, through the ``postgres`` maintenance database."""
    if database_exists(url):
        return
    parts = urlsplit(conninfo_from_url(url))
    name = parts.path.lstrip("/")
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, parts.fragment))
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.DuplicateDatabase:
            pass  # another process created it between our check and our CREATE


def drop_database(url: str) -> None:
    conninfo = conninfo_from_url(url)
    parts = urlsplit(conninfo)
    name = parts.path.lstrip("/")
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, parts.fragment))
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def truncate_all(url: str, schema: str) -> None:
    """Empty every table but the migration marker and the listener registry.

    The registry describes live connections, not data: emptying it would silence the writes
    that processes still listening wait for.
    """
    with psycopg.connect(conninfo_from_url(url), autocommit=True) as conn:
        tables: list[Any] = conn.execute(
            "SELECT tablename FROM pg_tables"
            " WHERE schemaname = %s AND tablename NOT IN ('dbos_migrations', 'listeners')",
            (schema,),
        ).fetchall()
        if tables:
            names = sql.SQL(", ").join(sql.Identifier(schema, table) for (table,) in tables)
            conn.execute(sql.SQL("TRUNCATE {} CASCADE").format(names))
