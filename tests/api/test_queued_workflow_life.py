"""A queued workflow's life: its timeout starts at dequeue, dead-lettering frees its slot,
and enqueueing options neither repeat on the same ID nor leak into the workflow's body."""

from __future__ import annotations

import pytest
from system_tables import SystemTables, launch

from dbos import DBOS, DBOSConfig, Queue, SetEnqueueOptions, SetWorkflowID, SetWorkflowTimeout
from dbos._api import lifecycle
from dbos._services.queue_runner import QueueRunnerService
from dbos.error import DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded, DBOSException


def test_an_enqueued_workflows_timeout_starts_when_it_is_dequeued(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def quick() -> int:
        return 1

    with SetWorkflowID("timed"), SetWorkflowTimeout(30):
        handle = DBOS.enqueue_workflow("timed-queue", quick)
    row = system_tables.workflow("timed")
    assert row is not None
    assert (row["workflow_timeout_ms"], row["workflow_deadline_epoch_ms"]) == (30_000, None)
    Queue("timed-queue", polling_interval_sec=0.05)
    assert handle.get_result() == 1
    row = system_tables.workflow("timed")
    assert row is not None
    assert row["workflow_deadline_epoch_ms"] == row["started_at_epoch_ms"] + 30_000


def test_a_parents_deadline_goes_with_the_children_it_enqueues(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def child() -> None:
        return None

    @DBOS.workflow()
    def parent() -> None:
        DBOS.enqueue_workflow("unserved", child)  # and returns without waiting for it

    with SetWorkflowID("parent"), SetWorkflowTimeout(60):
        parent()
    parent_row, child_row = system_tables.workflow("parent"), system_tables.workflow("parent-1")
    assert parent_row is not None and child_row is not None
    assert child_row["workflow_deadline_epoch_ms"] == parent_row["workflow_deadline_epoch_ms"]
    assert child_row["workflow_timeout_ms"] is None


def test_a_dead_lettered_workflow_frees_its_queue_slot(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow(max_recovery_attempts=1)
    def fragile(x: int) -> int:
        return x

    with SetWorkflowID("doomed"):
        doomed = DBOS.enqueue_workflow("one-slot", fragile, 1)
    with SetWorkflowID("doomed"):  # enqueueing the same ID again counts no attempt
        DBOS.enqueue_workflow("one-slot", fragile, 1)
    assert system_tables.workflow("doomed")["recovery_attempts"] == 0  # type: ignore[index]
    # As if it had been claimed and lost twice: the next claim is one too many.
    system_tables.execute(
        "UPDATE workflow_status SET recovery_attempts = 2 WHERE workflow_uuid = 'doomed'"
    )
    with SetWorkflowID("next"):
        following = DBOS.enqueue_workflow("one-slot", fragile, 2)
    Queue("one-slot", global_concurrency=1, polling_interval_sec=0.05)
    with pytest.raises(DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded):
        doomed.get_result()
    assert following.get_result() == 2
    row = system_tables.workflow("doomed")
    assert row is not None and (row["status"], row["recovery_attempts"], row["queue_name"]) == (
        "MAX_RECOVERY_ATTEMPTS_EXCEEDED",
        3,
        None,
    )


def test_enqueueing_the_same_id_again_returns_the_original_with_its_arguments(
    dbos: type[DBOS],
) -> None:
    @DBOS.workflow()
    def echo(x: int) -> int:
        return x

    with SetEnqueueOptions(deduplication_id="d"):
        with SetWorkflowID("original"):
            DBOS.enqueue_workflow("echoes", echo, 1)
        with SetWorkflowID("original"):  # the same ID: no deduplication refusal
            again = DBOS.enqueue_workflow("echoes", echo, 2)
    Queue("echoes", polling_interval_sec=0.05)
    assert again.get_result() == 1


def test_enqueue_options_do_not_leak_into_the_enqueued_workflows_body(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    queue = Queue("no-leak", polling_interval_sec=0.05)

    @DBOS.workflow()
    def child() -> str:
        return "child ran"

    @DBOS.workflow()
    def parent() -> str:
        return str(queue.enqueue(child).get_result())

    with SetWorkflowID("parent"), SetEnqueueOptions(deduplication_id="only", priority=3):
        handle = queue.enqueue(parent)
    assert handle.get_result() == "child ran"  # not refused as a duplicate of its parent
    child_row = system_tables.workflow("parent-1")
    assert child_row is not None
    assert (child_row["deduplication_id"], child_row["priority"]) == (None, 0)


def test_a_delay_without_a_queue_is_refused_before_any_row(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.workflow()
    def direct() -> int:
        return 1

    with SetEnqueueOptions(delay_seconds=5), pytest.raises(DBOSException, match="delay_seconds"):
        direct()
    assert system_tables.workflows() == []


def test_recovery_runs_before_this_process_starts_claiming(
    clean_dbos: None,
    config: DBOSConfig,
    system_tables: SystemTables,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Rows the runner claims are PENDING for this executor; recovery re-enqueues this
    # executor's PENDING rows. If the runner started first, recovery could hand its fresh
    # claims to another process while this one runs them (two runs, neither finishing).
    order: list[str] = []
    real_recover, real_start = lifecycle.recover_pending_workflows, QueueRunnerService.start

    def recover(rt: object) -> list[str]:
        order.append("recover")
        return real_recover(rt)  # type: ignore[arg-type]

    def start(self: QueueRunnerService) -> None:
        order.append("runner")
        real_start(self)

    monkeypatch.setattr(lifecycle, "recover_pending_workflows", recover)
    monkeypatch.setattr(QueueRunnerService, "start", start)

    @DBOS.workflow()
    def once() -> int:
        return 1

    launch(config)
    with SetWorkflowID("queued-before"):
        DBOS.enqueue_workflow("served-after-relaunch", once)
    DBOS.destroy()
    Queue("served-after-relaunch", polling_interval_sec=0.05)
    launch(config)
    assert DBOS.retrieve_workflow("queued-before").get_result() == 1
    assert order == ["recover", "runner", "recover", "runner"]
    assert system_tables.workflow("queued-before")["recovery_attempts"] == 1  # type: ignore[index]
