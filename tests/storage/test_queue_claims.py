"""QueueStore claims beyond the basics in test_stores.py: retries after a lost acknowledgement,
shared budgets, and partitions. Every test runs on SQLite and on Postgres."""

from __future__ import annotations

import threading
import time
import types
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from storage_support import step, workflow

from dbos._core.queue_rules import PartitionLimits
from dbos._storage import postgres_backend
from dbos._storage.backend import Backend, Connection, Params, Row
from dbos._storage.queues import PartitionBudget, QueueStore, SharedBudget
from dbos._storage.system_database import SystemDatabase


def enqueue(db: SystemDatabase, workflow_id: str, **overrides: object) -> None:
    fields: dict[str, object] = {
        "status": "ENQUEUED",
        "queue_name": "q",
        "executor_id": None,
        "recovery_attempts": 0,
    }
    fields.update(overrides)
    db.workflows.insert(workflow(workflow_id, **fields))


def claim_with(
    store: QueueStore, *, limit: int, owner: str, budget: SharedBudget | None = None
) -> list[str]:
    claimed = store.claim(
        "q",
        executor_id="exec-1",
        app_version="v1",
        app_name="app",
        limit=limit,
        now_ms=50_000,
        owner=owner,
        budget=budget,
    )
    return [c.workflow_id for c in claimed]


class AcknowledgementLost:
    """A backend whose writes commit but whose first answers are lost.

    Each write runs once, then again the way a backend retries after its connection dropped
    between the commit and the reply; the caller only sees the second answer.
    """

    def __init__(self, inner: Backend) -> None:
        self._inner = inner
        self.dialect = inner.dialect

    def read_one(self, query: str, params: Params = ()) -> Row | None:
        return self._inner.read_one(query, params)

    def read_all(self, query: str, params: Params = ()) -> list[Row]:
        return self._inner.read_all(query, params)

    def write_one(
        self,
        query: str,
        params: Params = (),
        *,
        rerun: tuple[str, Params] | None = None,
        shareable: bool = False,
    ) -> list[Row]:
        self._inner.write_one(query, params)
        again, values = rerun if rerun is not None else (query, params)
        return self._inner.write_one(again, values)

    def transact(self, fn: Callable[[Connection], Any]) -> Any:
        self._inner.transact(fn)
        return self._inner.transact(fn)


@pytest.mark.parametrize("budget", [None, SharedBudget(global_concurrency=10)])
def test_a_claim_retried_after_a_lost_acknowledgement_returns_what_it_took(
    db: SystemDatabase, budget: SharedBudget | None
) -> None:
    for i in range(5):
        enqueue(db, f"w{i}", created_at=1_000 + i)
    lossy = QueueStore(AcknowledgementLost(db.backend))  # type: ignore[arg-type]
    assert claim_with(lossy, limit=2, owner="first", budget=budget) == ["w0", "w1"]
    # Nothing more was taken, and the next claim goes on from where that one stopped.
    assert [db.workflows.get_status(f"w{i}") for i in range(5)] == ["PENDING"] * 2 + [
        "ENQUEUED"
    ] * 3
    assert claim_with(db.queues, limit=2, owner="second", budget=budget) == ["w2", "w3"]


@pytest.mark.postgres_only
def test_the_postgres_backend_reruns_a_claim_whose_reply_was_lost(
    db: SystemDatabase, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend != "postgres":
        pytest.skip("connection loss after commit is a Postgres matter")
    for i in range(3):
        enqueue(db, f"w{i}", created_at=1_000 + i)
    pg: Any = db.backend
    real = pg._prepared.execute
    dropped: list[str] = []

    def drop_after_commit(conn: Any, query: str, params: Params) -> list[Row] | None:
        rows = real(conn, query, params)
        if "UPDATE" in query and not dropped:
            dropped.append(query)
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return rows

    monkeypatch.setattr(pg._prepared, "execute", drop_after_commit)
    monkeypatch.setattr(postgres_backend, "time", types.SimpleNamespace(sleep=lambda _: None))
    assert claim_with(db.queues, limit=2, owner="token") == ["w0", "w1"]
    assert dropped
    assert db.workflows.get_status("w2") == "ENQUEUED"


# ---------------------------------------------------------------- partitions


def claim_partitions(
    db: SystemDatabase,
    limits: PartitionLimits,
    *,
    limit: int = 100,
    now_ms: int = 50_000,
    running_here: dict[str, int] | None = None,
    budget: SharedBudget | None = None,
    owner: str = "token",
) -> list[tuple[str, str | None]]:
    claimed = db.queues.claim(
        "q",
        executor_id="exec-1",
        app_version="v1",
        app_name="app",
        limit=limit,
        now_ms=now_ms,
        owner=owner,
        budget=budget,
        partitions=PartitionBudget(limits, running_here or {}),
    )
    return sorted((c.workflow_id, c.partition_key) for c in claimed)


def fill(db: SystemDatabase, partitions: str, per_partition: int) -> None:
    for key in partitions:
        for i in range(per_partition):
            enqueue(db, f"{key}{i}", queue_partition_key=key, created_at=1_000 + i)


def test_partition_concurrency_holds_each_partition_to_its_own_limit(
    db: SystemDatabase,
) -> None:
    fill(db, "abc", 3)
    one_each = PartitionLimits(concurrency=1)
    assert claim_partitions(db, one_each) == [("a0", "a"), ("b0", "b"), ("c0", "c")]
    assert claim_partitions(db, one_each) == []  # every partition is busy
    db.workflows.record_outcome("b0", "SUCCESS", None, None, 60_000, "token")
    assert claim_partitions(db, one_each) == [("b1", "b")]
    two_each = PartitionLimits(concurrency=2)
    assert claim_partitions(db, two_each) == [("a1", "a"), ("b2", "b"), ("c1", "c")]


def test_a_partition_is_claimed_in_priority_then_age_order(db: SystemDatabase) -> None:
    enqueue(db, "late", queue_partition_key="k", created_at=3_000, priority=3)
    enqueue(db, "urgent", queue_partition_key="k", created_at=4_000, priority=1)
    enqueue(db, "same-priority-later", queue_partition_key="k", created_at=5_000, priority=3)
    enqueue(db, "early", queue_partition_key="k", created_at=2_000, priority=5)
    order = []
    while claimed := claim_partitions(db, PartitionLimits(concurrency=1)):
        order += [wid for wid, _ in claimed]
        db.workflows.record_outcome(claimed[0][0], "SUCCESS", None, None, 60_000, "token")
    assert order == ["urgent", "late", "same-priority-later", "early"]


def test_partition_worker_concurrency_counts_what_runs_in_this_process(
    db: SystemDatabase,
) -> None:
    fill(db, "ab", 3)
    limits = PartitionLimits(worker_concurrency=2)
    assert claim_partitions(db, limits, running_here={"a": 2, "b": 1}) == [("b0", "b")]


def test_the_partition_limiter_counts_starts_per_partition_inside_its_window(
    db: SystemDatabase,
) -> None:
    fill(db, "ab", 4)
    limits = PartitionLimits(limiter={"limit": 2, "period": 10})
    assert len(claim_partitions(db, limits, now_ms=50_000)) == 4  # two per partition
    assert claim_partitions(db, limits, now_ms=55_000) == []  # still inside the window
    later = claim_partitions(db, limits, now_ms=60_001)
    assert later == [("a2", "a"), ("a3", "a"), ("b2", "b"), ("b3", "b")]


def test_queue_wide_limits_still_bound_a_partitioned_claim(db: SystemDatabase) -> None:
    fill(db, "abcd", 2)
    limits = PartitionLimits(concurrency=1)
    assert len(claim_partitions(db, limits, budget=SharedBudget(global_concurrency=3))) == 3
    assert len(claim_partitions(db, limits, limit=1)) == 1  # the one partition left


def test_a_partitioned_claim_spreads_a_small_budget_over_many_partitions(
    db: SystemDatabase,
) -> None:
    fill(db, "abcdefgh", 5)
    claimed = claim_partitions(db, PartitionLimits(worker_concurrency=10), limit=8)
    assert sorted(key for _, key in claimed) == list("abcdefgh")


def test_keyless_rows_wait_on_a_partitioned_claim_but_not_on_a_plain_one(
    db: SystemDatabase,
) -> None:
    enqueue(db, "keyless")
    enqueue(db, "keyed", queue_partition_key="k")
    assert claim_partitions(db, PartitionLimits(concurrency=5)) == [("keyed", "k")]
    assert claim_with(db.queues, limit=5, owner="plain") == ["keyless"]


def test_concurrent_partitioned_claimers_never_exceed_a_partitions_concurrency(
    open_db: Callable[[], SystemDatabase], db: SystemDatabase
) -> None:
    fill(db, "abcdefghij", 5)
    claimers = [open_db() for _ in range(4)]
    barrier = threading.Barrier(len(claimers))
    results: list[tuple[str, str | None]] = []
    errors: list[BaseException] = []

    def run(claimer: SystemDatabase, index: int) -> None:
        barrier.wait()
        try:
            for attempt in range(5):
                results.extend(
                    claim_partitions(claimer, PartitionLimits(concurrency=1), limit=3,
                                     owner=f"claimer-{index}-{attempt}")
                )  # fmt: skip
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c, i)) for i, c in enumerate(claimers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(key or "" for _, key in results) == list("abcdefghij")


def test_due_delayed_rows_join_their_queue_and_debounced_ones_free_their_key(
    db: SystemDatabase,
) -> None:
    enqueue(db, "due", status="DELAYED", delay_until_epoch_ms=1_000, deduplication_id="a")
    enqueue(db, "debounced", status="DELAYED", delay_until_epoch_ms=1_000, deduplication_id="b")
    enqueue(db, "later", status="DELAYED", delay_until_epoch_ms=9_000, deduplication_id="c")
    db.backend.write_one(
        db.dialect.sql(
            "UPDATE {s}workflow_status SET is_debounced = ? WHERE workflow_uuid = 'debounced'"
        ),
        (True,),
    )
    assert db.queues.promote_delayed("app", 2_000) == ["q", "q"]
    rows = {wid: db.workflows.get(wid) for wid in ("due", "debounced", "later")}
    assert {wid: (r.status, r.deduplication_id) for wid, r in rows.items()} == {  # type: ignore[union-attr]
        "due": ("ENQUEUED", "a"),
        "debounced": ("ENQUEUED", None),
        "later": ("DELAYED", "c"),
    }


# ---------------------------------------------------------------- notices


def test_a_quiet_enqueue_leaves_its_notice_to_announce(db: SystemDatabase, backend: str) -> None:
    queue = "notices-" + uuid.uuid4().hex  # the channel is shared by every schema
    listener = db.backend.listen(["dbos_queue_channel"])
    if backend == "sqlite":
        assert listener is None  # no notices: quiet or not, inserts behave the same
        db.queues.announce(queue)
    else:
        assert listener is not None
        listener.wait(0.01)  # connects and listens
    try:
        db.workflows.insert(workflow("quiet", status="ENQUEUED", queue_name=queue), quiet=True)
        # The quiet request lasts one statement: the next insert (on the same pooled
        # connection, likely) notifies as usual.
        db.workflows.insert(workflow("loud", status="ENQUEUED", queue_name=queue), quiet=False)
        heard = [] if listener is None else drain(listener, queue)
        assert heard == ([] if listener is None else [queue])  # the loud one only
        db.queues.announce(queue)
        assert ([] if listener is None else drain(listener, queue)) == (
            [] if listener is None else [queue]
        )
    finally:
        if listener is not None:
            listener.close()
    assert {db.workflows.get_status(w) for w in ("loud", "quiet")} == {"ENQUEUED"}


def drain(listener: Any, queue: str) -> list[str]:
    """The notices for ``queue`` that arrive within a moment."""
    heard: list[str] = []
    deadline = time.monotonic() + 0.5
    while (left := deadline - time.monotonic()) > 0:
        heard += [payload for _, payload in listener.wait(left) if payload == queue]
    return heard


def test_a_claim_returns_what_running_each_workflow_needs(db: SystemDatabase) -> None:
    enqueue(db, "fresh", class_name="C", config_name="c", authenticated_roles='["r"]')
    enqueue(db, "resumed", created_at=2_000, workflow_deadline_epoch_ms=9_000)
    db.steps.record(step("resumed", 1))
    claimed = db.queues.claim(
        "q",
        executor_id="exec-1",
        app_version="v1",
        app_name="app",
        limit=10,
        now_ms=50_000,
        owner="token",
    )
    fresh, resumed = claimed
    assert (fresh.workflow_id, fresh.has_steps, resumed.has_steps) == ("fresh", False, True)
    assert (fresh.inputs, fresh.serialization, fresh.class_name, fresh.config_name) == (
        "inputs-fresh",
        "py_pickle",
        "C",
        "c",
    )
    assert (fresh.authenticated_roles, resumed.workflow_deadline_epoch_ms) == ('["r"]', 9_000)
