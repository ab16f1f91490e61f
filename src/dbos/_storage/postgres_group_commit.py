"""Group commit for Postgres: concurrent writes of one process share a transaction and a flush.

With ``synchronous_commit`` on, every commit waits until its WAL is on disk, and the server
flushes the WAL for one committing backend at a time. A worker running dozens of workflows
commits every checkpoint and every outcome on its own; those flushes queue behind each other,
and every other client of the server (the process enqueueing work, say) waits behind them.

So a process keeps one write (a single statement) on the wire at a time, as SQLite's single
writer does. A write that finds nothing in flight runs alone, at once, exactly as without
grouping: one statement in autocommit. A write that finds one in flight queues. When the
write in flight finishes, the first queued thread takes everything queued (up to
``max_group``) and sends it as one pipeline: BEGIN, each statement, COMMIT, in one round trip
and one flush. Nobody is answered before that COMMIT has returned, so durability is as before.

Measured on a 2-core machine (benchmarks, queue and checkpoint suites): two worker processes
fed by one enqueuer ran 20% more workflows a second, and the server spent about 30% less CPU
per workflow. The price is parallelism inside one process: 64 workflows started at once in
one process, each of three trivial steps, ran about 25% slower, because their statements no
longer execute on several server backends at once. Work that spends real time in its steps
hides that price; a fleet sharing one database gains the server's CPU.

If anything in a group fails, the transaction is rolled back and each of its writes runs
again alone, so an error reaches its own caller only, in the form it would have had alone
(retries and error mapping included), while the other writes commit as they would have.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from dbos._storage.backend import Params, Row


class GroupNotCommitted(Exception):
    """Raised by ``together`` when running each statement of the group alone is safe.

    Nothing was sent, or the server rolled the group back, or the connection was lost: then
    each write runs again alone, as a lone write is retried after a lost connection.
    """


class _Write:
    __slots__ = ("error", "group", "params", "query", "rows", "signal")

    def __init__(self, query: str, params: Params) -> None:
        self.query = query
        self.params = params
        self.rows: list[Row] = []
        self.error: BaseException | None = None
        self.group: list[_Write] | None = None  # set when this write's thread leads a group
        self.signal = threading.Event()

    def outcome(self) -> list[Row]:
        if self.error is not None:
            raise self.error
        return self.rows


class GroupCommitter:
    """Runs single statements, folding those that queue behind others into one transaction.

    ``alone`` runs one statement on its own (with the backend's retries and error mapping);
    ``together`` runs several in one transaction and returns each one's rows. It raises
    GroupNotCommitted when each may be run again alone; any other error it raises is
    every write's error, since the group may have committed.
    """

    def __init__(
        self,
        alone: Callable[[str, Params], list[Row]],
        together: Callable[[Sequence[tuple[str, Params]]], list[list[Row]]],
        *,
        max_in_flight: int = 1,
        max_group: int = 64,
    ) -> None:
        self._alone = alone
        self._together = together
        self._max_in_flight = max_in_flight
        self._max_group = max_group
        self._lock = threading.Lock()
        self._in_flight = 0
        self._queued: list[_Write] = []

    def run(self, query: str, params: Params) -> list[Row]:
        """The statement's rows, once it has committed (alone or with a group)."""
        with self._lock:
            if self._in_flight < self._max_in_flight:
                self._in_flight += 1
                write = None
            else:
                write = _Write(query, params)
                self._queued.append(write)
        if write is None:
            try:
                return self._alone(query, params)
            finally:
                self._pass_on()
        try:
            write.signal.wait()
        except BaseException:  # an interrupt (Ctrl-C in the main thread) while queued
            with self._lock:
                queued = write.group is None and write in self._queued
                if queued:
                    self._queued.remove(write)
            if queued or write.group is None:
                raise  # never sent, or the leader of its group commits it anyway
            self._lead(write.group)  # made leader meanwhile: the group must still go out
            raise
        if write.group is not None:  # this thread leads: it commits the group for everyone
            self._lead(write.group)
        return write.outcome()

    def _lead(self, group: list[_Write]) -> None:
        try:
            self._commit(group)
        finally:
            # The next group goes out before this one's threads wake up and compete for
            # the interpreter with whoever leads it.
            self._pass_on()
            for member in group[1:]:
                member.signal.set()

    def _pass_on(self) -> None:
        """A write in flight is done: hand its place to the queued writes, as one group."""
        with self._lock:
            if not self._queued:
                self._in_flight -= 1
                return
            group = self._queued[: self._max_group]
            del self._queued[: self._max_group]
            group[0].group = group  # under the lock: an interrupted waiter checks it there
        group[0].signal.set()

    def _commit(self, group: list[_Write]) -> None:
        done = 0
        try:
            results = None
            if len(group) > 1:
                try:
                    results = self._together([(w.query, w.params) for w in group])
                except GroupNotCommitted:
                    results = None  # each write runs alone, and fails alone
                except Exception as exc:  # the group may have committed: nothing to re-run
                    for write in group:
                        write.error = exc
                    return
            for index, write in enumerate(group):
                try:
                    if results is not None:
                        write.rows = results[index]
                    else:
                        write.rows = self._alone(write.query, write.params)
                except Exception as exc:
                    write.error = exc
                done += 1
        except BaseException as exc:  # an interrupt: the rest fail, with an error of their own
            for write in group[done:]:
                write.error = GroupInterrupted(
                    f"the thread committing this write was interrupted ({exc!r}); "
                    "the write may or may not have committed"
                )
            raise


class GroupInterrupted(Exception):
    """The thread leading a group was interrupted: its writes' outcomes are unknown."""
