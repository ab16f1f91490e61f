"""The contract every database backend meets: reads, one-statement writes, and transactions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from dbos._storage.dialect import Dialect

Row = tuple[Any, ...]
Params = Sequence[Any]
T = TypeVar("T")


class DuplicateKey(Exception):
    """A write broke a unique constraint (e.g. a queue's deduplication ID is taken)."""


class MissingReference(Exception):
    """A write named a row that does not exist (a foreign key), e.g. a message to nobody."""


class WorkflowGone(Exception):
    """A workflow's own write found its workflow deleted; what it wrote has been removed.

    Not a MissingReference: that one blames what a write names (a message's destination).
    """


Statement = tuple[str, Params]


class Listener(Protocol):
    """A subscription to database notifications (Postgres LISTEN)."""

    def wait(self, timeout_sec: float) -> list[tuple[str, str]]:
        """Notifications as (channel, payload) that arrived within ``timeout_sec``."""
        ...

    def add_channel(self, channel: str, timeout_sec: float) -> bool:
        """Also listen on ``channel``; True once listening (another thread must be waiting)."""
        ...

    def close(self) -> None: ...


class Connection(Protocol):
    """The part of a DB-API connection the stores use; sqlite3 and psycopg both provide it."""

    def execute(self, query: Any, params: Any = ...) -> Any: ...


class Backend(Protocol):
    """One system database. Stores are written once against this.

    Contract:
    - ``read_one`` / ``read_all`` run one statement that sees committed data.
    - ``write_one`` runs one statement as its own durable transaction, in one round trip, and
      returns the rows it produced. It is the checkpoint path: no caller-held transaction,
      so a later group-commit writer can batch such calls from many workflows. When a
      retry follows an attempt whose commit may have landed unacknowledged, the backend
      runs ``rerun`` (a query and its parameters) instead, if one is given: a caller whose
      statement is not idempotent uses it to find what the first attempt did.
    - ``shareable`` marks a write a running workflow makes as it goes (a checkpoint, an
      outcome): such writes come many at a time from concurrent workflows, and the backend
      may commit several of them in one transaction (Postgres; SQLite groups every write).
      Writes on a caller's critical path (starting or enqueueing a workflow) are not
      marked, so they never wait behind a group.
    - ``transact(fn)`` runs ``fn(connection)`` inside one write transaction: committed when
      ``fn`` returns, rolled back when it raises. On SQLite it holds the write lock from the
      start (``BEGIN IMMEDIATE``), so read-then-write inside it is safe. ``fn`` may be run
      again after a lost connection, so it must only touch the database.
    - Retriable connection errors are retried inside the backend ("pause rather than
      diverge"); callers see only errors that retrying cannot fix.
    - A statement that breaks a unique constraint raises DuplicateKey, on every backend.
    - A statement that breaks a foreign key raises MissingReference, on every backend.
    """

    dialect: Dialect

    def read_one(self, query: str, params: Params = ()) -> Row | None: ...

    def read_all(self, query: str, params: Params = ()) -> list[Row]: ...

    def write_one(
        self,
        query: str,
        params: Params = (),
        *,
        rerun: tuple[str, Params] | None = None,
        shareable: bool = False,
    ) -> list[Row]: ...
    def read_rows(self, query: str, params: Params = ()) -> list[Row]:
        """``read_all`` for reads of many wide rows (listings), where decoding dominates."""
        ...

    def transact(self, fn: Callable[[Connection], T]) -> T: ...

    def write_batch(self, statements: Sequence[Statement], *, shareable: bool = False) -> list[Row]:
        """Run ``statements`` as one transaction, in one round trip; the first one's rows.

        All or nothing: a statement that fails rolls the others back. This is how an
        operation and its checkpoint commit together (a message and its ``DBOS.send`` step)
        at the cost of a single commit. The statements must not depend on each other's
        effects: on Postgres they may run as one statement, all seeing the same snapshot.
        """
        ...

    def close(self) -> None: ...

    def external_commits(self) -> int | None:
        """A counter that moves when another process commits; None where LISTEN serves."""
        ...

    def listen(self, channels: Sequence[str]) -> Listener | None:
        """A listener on ``channels``, or None where the backend has no notifications."""
        ...


def fetch_rows(cursor: Any) -> list[Row]:
    """Rows of a cursor that may have produced none (its description is None then)."""
    if cursor.description is None:
        return []
    return list(cursor.fetchall())
