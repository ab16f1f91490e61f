"""The libpq fast path for Postgres statements on the checkpoint path.

psycopg's cursor layer costs about 50 microseconds of Python per statement; a step's
checkpoint is one short statement, so that layer would be most of our CPU per step. Here a
statement is prepared once per connection and executed straight through libpq with text
parameters. Anything this path cannot encode falls back to ordinary psycopg.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import errors, pq

from dbos._storage import socket_wait
from dbos._storage.backend import Params, Row

_OK = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)
_INT_OIDS = frozenset({20, 21, 23, 26})  # int8, int2, int4, oid
_FLOAT_OIDS = frozenset({700, 701, 1700})  # float4, float8, numeric
_BOOL_OID = 16
_ENCODABLE = frozenset({str, int, bool, float, type(None)})  # what _encode takes


class NotEncodable(Exception):
    """A parameter this path does not encode; the caller uses psycopg instead."""


class PipelineFailed(Exception):
    """A statement of a pipeline failed, so its transaction was rolled back.

    ``index`` is the failed statement's position (None when COMMIT itself failed);
    ``error`` is the server's error, as psycopg raises it.
    """

    def __init__(self, error: psycopg.Error, index: int | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.index = index


def to_dollar_placeholders(query: str) -> bytes:
    """``%s`` placeholders (and ``%%`` escapes) as libpq's ``$1, $2, ...``."""
    pieces = query.split("%s")
    out = [pieces[0]]
    for index, piece in enumerate(pieces[1:], start=1):
        out.append(f"${index}")
        out.append(piece)
    return "".join(out).replace("%%", "%").encode()


def _encode(value: Any) -> bytes | None:
    if value is None:
        return None
    kind = type(value)
    if kind is str:
        try:
            return value.encode()  # type: ignore[no-any-return]
        except UnicodeEncodeError:  # a lone surrogate: psycopg reports it for this statement
            raise NotEncodable("a string that is not valid UTF-8") from None
    if kind is int:
        return str(value).encode()
    if kind is bool:
        return b"t" if value else b"f"
    if kind is float:
        return repr(value).encode()
    raise NotEncodable(kind.__name__)


def _decode(result: pq.abc.PGresult) -> list[Row]:
    fields = range(result.nfields)
    oids = [result.ftype(f) for f in fields]
    rows: list[Row] = []
    for r in range(result.ntuples):
        row: list[Any] = []
        for f in fields:
            raw = result.get_value(r, f)
            if raw is None:
                row.append(None)
            elif oids[f] in _INT_OIDS:
                row.append(int(raw))
            elif oids[f] == _BOOL_OID:
                row.append(raw == b"t")
            elif oids[f] in _FLOAT_OIDS:
                row.append(float(raw))
            else:
                row.append(bytes(raw).decode())
        rows.append(tuple(row))
    return rows


class PreparedStatements:
    """Statement names per query, and which connections have prepared which."""

    def __init__(self) -> None:
        # query -> (statement name, libpq text). One dict store per query, and names derived
        # from the text itself, so threads preparing at once can never mix two statements up.
        self._statements: dict[str, tuple[bytes, bytes]] = {}
        self._unpreparable: set[str] = set()
        self._prepared: weakref.WeakKeyDictionary[Any, set[bytes]] = weakref.WeakKeyDictionary()

    def execute(
        self, conn: psycopg.Connection[Any], query: str, params: Params
    ) -> list[Row] | None:
        """Rows of ``query``, or None when this path cannot run it (use psycopg then)."""
        try:
            encoded = [_encode(p) for p in params]
        except NotEncodable:
            return None
        name = self._prepare(conn, query)
        if name is None:
            return None
        # libpq sends None as SQL NULL; psycopg's stub for exec_prepared leaves None out.
        result = conn.pgconn.exec_prepared(name, encoded)  # type: ignore[arg-type]
        if result.status not in _OK:
            self._check_connection(conn.pgconn)
            raise errors.error_from_result(result, encoding="utf-8")
        return _decode(result)

    def can_pipeline(self, query: str, params: Params) -> bool:
        """Whether ``pipeline`` can send this statement (a cheap check, before queueing it)."""
        return query not in self._unpreparable and all(type(p) in _ENCODABLE for p in params)

    def pipeline(
        self, conn: psycopg.Connection[Any], statements: Sequence[tuple[str, Params]]
    ) -> list[list[Row]]:
        """Run ``statements`` in one transaction and one round trip; the rows of each.

        NotEncodable if one of them cannot go this way (nothing was sent). If a statement
        fails, the transaction is rolled back and PipelineFailed raised.
        """
        named = []
        for query, params in statements:
            name = self._prepare(conn, query)
            if name is None:
                raise NotEncodable("an unpreparable statement")
            named.append((name, [_encode(p) for p in params]))
        pgconn = conn.pgconn
        pgconn.enter_pipeline_mode()
        try:
            pgconn.send_query_params(b"BEGIN", None)
            for name, encoded in named:
                pgconn.send_query_prepared(name, encoded)
            pgconn.send_query_params(b"COMMIT", None)
            pgconn.pipeline_sync()
            _send_all(pgconn)
            results = _pipeline_results(pgconn)
        finally:
            if pgconn.pipeline_status != pq.PipelineStatus.OFF:
                try:
                    pgconn.exit_pipeline_mode()
                except psycopg.OperationalError:
                    pass  # results left unread: the connection is broken, the pool drops it
        failed = next((i for i, r in enumerate(results) if r.status not in _OK), None)
        if failed is not None:
            self._check_connection(pgconn)
            if pgconn.transaction_status != pq.TransactionStatus.IDLE:
                pgconn.exec_(b"ROLLBACK")
            error = errors.error_from_result(results[failed], encoding="utf-8")
            # results[0] is BEGIN's, and the one after the statements COMMIT's.
            index = failed - 1 if 0 < failed <= len(named) else None
            raise PipelineFailed(error, index)
        return [_decode(r) for r in results[1:-1]]  # BEGIN and COMMIT left out

    def _prepare(self, conn: psycopg.Connection[Any], query: str) -> bytes | None:
        """The name ``query`` is prepared under on ``conn``; None if it cannot be prepared."""
        if query in self._unpreparable:
            return None
        statement = self._statements.get(query)
        if statement is None:
            digest = hashlib.sha1(query.encode(), usedforsecurity=False).hexdigest()[:20]
            statement = self._statements[query] = (
                f"dbos_{digest}".encode(),
                to_dollar_placeholders(query),
            )
        name, text = statement
        prepared = self._prepared.setdefault(conn, set())
        if name not in prepared:
            pgconn = conn.pgconn
            result = pgconn.prepare(name, text)
            if result.status != pq.ExecStatus.COMMAND_OK:
                self._check_connection(pgconn)
                self._unpreparable.add(query)  # e.g. a parameter whose type needs inference
                return None
            prepared.add(name)
        return name

    @staticmethod
    def _check_connection(pgconn: pq.abc.PGconn) -> None:
        if pgconn.status != pq.ConnStatus.OK:
            raise psycopg.OperationalError("the connection to the system database was lost")


def _send_all(pgconn: pq.abc.PGconn) -> None:
    """Push out what libpq still buffers of the pipeline.

    psycopg keeps its connections non-blocking, so a pipeline larger than the socket's send
    buffer is left partly unsent. Reading what the server answers meanwhile keeps it from
    stalling on a full send buffer of its own.
    """
    while pgconn.flush() == 1:
        readable, _ = socket_wait.wait([pgconn.socket], [pgconn.socket])
        if readable:
            pgconn.consume_input()


def _pipeline_results(pgconn: pq.abc.PGconn) -> list[pq.abc.PGresult]:
    """Every result up to the pipeline's sync point, one per statement sent."""
    results: list[pq.abc.PGresult] = []
    while True:
        while pgconn.is_busy():
            # Not get_result's own wait: psycopg's binary PGconn.get_result holds the GIL
            # while it blocks, so it is only called once a result is in.
            socket_wait.wait([pgconn.socket])
            pgconn.consume_input()
        result = pgconn.get_result()
        if result is None:
            continue  # the end of one statement's results
        if result.status == pq.ExecStatus.PIPELINE_SYNC:
            return results
        results.append(result)
