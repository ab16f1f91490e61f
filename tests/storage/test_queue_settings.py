"""QueueSettingsStore: queues registered in the database, on every backend."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

import pytest

from dbos._core.queue_rules import QueueLimits, validate_limits
from dbos._storage.system_database import SystemDatabase

EVERYTHING = QueueLimits(
    global_concurrency=10,
    worker_concurrency=4,
    limiter={"limit": 5, "period": 2.5},
    partition_concurrency=3,
    partition_worker_concurrency=2,
    partition_limiter={"limit": 1, "period": 0.5},
    polling_interval_sec=0.25,
    priority_enabled=True,
)


def test_a_registered_queue_reads_back_with_every_setting(db: SystemDatabase) -> None:
    assert db.queue_settings.insert("q", EVERYTHING, "app", 1_000) is True
    record = db.queue_settings.get("q")
    assert record is not None
    assert (record.name, record.limits, record.application_name) == ("q", EVERYTHING, "app")
    assert (record.created_at, record.updated_at) == (1_000, 1_000)
    legacy = QueueLimits(global_concurrency=1, partition_queue=True)
    db.queue_settings.insert("legacy", legacy, None, 1_000)
    assert db.queue_settings.get("legacy").limits == legacy  # type: ignore[union-attr]
    assert db.queue_settings.get("missing") is None


def test_a_taken_name_is_not_registered_again(db: SystemDatabase) -> None:
    db.queue_settings.insert("q", EVERYTHING, "app", 1_000)
    assert db.queue_settings.insert("q", QueueLimits(), "other-app", 2_000) is False
    assert db.queue_settings.get("q").limits == EVERYTHING  # type: ignore[union-attr]


def test_lists_updates_and_deletes_see_own_and_unclaimed_queues_only(
    db: SystemDatabase,
) -> None:
    db.queue_settings.insert("mine", QueueLimits(), "app", 1_000)
    db.queue_settings.insert("unclaimed", QueueLimits(), None, 1_000)
    db.queue_settings.insert("theirs", QueueLimits(), "other-app", 1_000)
    assert [r.name for r in db.queue_settings.list("app")] == ["mine", "unclaimed"]
    changed = QueueLimits(worker_concurrency=2)
    assert db.queue_settings.update("theirs", changed, "app", 2_000) is False
    assert db.queue_settings.update("unclaimed", changed, "app", 2_000) is True
    claimed = db.queue_settings.get("unclaimed")
    assert claimed is not None
    assert (claimed.limits, claimed.application_name, claimed.updated_at) == (changed, "app", 2_000)
    assert db.queue_settings.delete("theirs", "app") is False
    assert db.queue_settings.delete("mine", "app") is True
    assert [r.name for r in db.queue_settings.list("app")] == ["unclaimed"]
    assert [r.name for r in db.queue_settings.list("other-app")] == ["theirs"]


def test_a_caller_with_no_application_sees_and_changes_every_queue_keeping_owners(
    db: SystemDatabase,
) -> None:
    db.queue_settings.insert("theirs", QueueLimits(), "other-app", 1_000)
    db.queue_settings.insert("unclaimed", QueueLimits(), None, 1_000)
    assert [r.name for r in db.queue_settings.list(None)] == ["theirs", "unclaimed"]
    changed = QueueLimits(worker_concurrency=3)
    assert db.queue_settings.update("theirs", changed, None, 2_000) is True
    assert db.queue_settings.change("theirs", None, lambda _: QueueLimits(), 3_000) is not None
    record = db.queue_settings.get("theirs")
    assert record is not None and record.application_name == "other-app"
    assert record.limits == QueueLimits()
    assert db.queue_settings.delete("theirs", None) is True
    assert [r.name for r in db.queue_settings.list(None)] == ["unclaimed"]


def test_a_change_that_refuses_writes_nothing(db: SystemDatabase) -> None:
    db.queue_settings.insert("q", EVERYTHING, "app", 1_000)

    def refuse(_: QueueLimits) -> QueueLimits:
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        db.queue_settings.change("q", "app", refuse, 2_000)
    assert db.queue_settings.get("q").updated_at == 1_000  # type: ignore[union-attr]
    assert db.queue_settings.change("missing", "app", refuse, 2_000) is None
    db.queue_settings.insert("theirs", QueueLimits(), "other-app", 1_000)
    assert db.queue_settings.change("theirs", "app", refuse, 2_000) is None


def test_concurrent_changes_each_see_the_others_result(
    open_db: Callable[[], SystemDatabase], db: SystemDatabase
) -> None:
    db.queue_settings.insert("counter", QueueLimits(worker_concurrency=1), "app", 1_000)
    writers = [open_db() for _ in range(4)]
    barrier = threading.Barrier(len(writers))

    def bump(limits: QueueLimits) -> QueueLimits:
        return validate_limits(worker_concurrency=(limits.worker_concurrency or 0) + 1)

    def run(writer: SystemDatabase) -> None:
        barrier.wait()
        for _ in range(5):
            writer.queue_settings.change("counter", "app", bump, 2_000)

    threads = [threading.Thread(target=run, args=(w,)) for w in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    record = db.queue_settings.get("counter")
    assert record is not None and record.limits == replace(QueueLimits(), worker_concurrency=21)
