"""DBOS.listen_queues: which queues this process dequeues from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from system_tables import SystemTables, launch

from dbos import DBOS, DBOSConfig, Queue, SetWorkflowID
from dbos.error import DBOSException


def define() -> Callable[..., Any]:
    @DBOS.workflow()
    def job(x: int) -> int:
        return x + 1

    return job


def test_a_process_dequeues_only_from_the_queues_it_listens_to(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    job = define()
    heard = Queue("heard", polling_interval_sec=0.05)
    Queue("unheard", polling_interval_sec=0.05)
    DBOS.listen_queues([heard, "registered-heard"])
    launch(config)
    DBOS.register_queue("registered-unheard", polling_interval_sec=0.05)
    DBOS.register_queue("registered-heard", polling_interval_sec=0.05)
    with SetWorkflowID("on-unheard"):
        DBOS.enqueue_workflow("unheard", job, 0)
    with SetWorkflowID("on-registered-unheard"):
        DBOS.enqueue_workflow("registered-unheard", job, 0)
    assert heard.enqueue(job, 1).get_result() == 2
    assert DBOS.enqueue_workflow("registered-heard", job, 2).get_result() == 3
    # DBOS's internal queue (recovery, resume) is always served.
    assert DBOS.enqueue_workflow("_dbos_internal_queue", job, 3).get_result() == 4
    for waiting in ("on-unheard", "on-registered-unheard"):
        assert system_tables.workflow(waiting)["status"] == "ENQUEUED"  # type: ignore[index]

    # A process that listens to every queue picks them up.
    DBOS.destroy(destroy_registry=True)
    define()
    Queue("unheard", polling_interval_sec=0.05)
    launch(config)
    assert DBOS.retrieve_workflow("on-unheard").get_result() == 1
    assert DBOS.retrieve_workflow("on-registered-unheard").get_result() == 1


def test_listen_queues_is_called_once_before_launch(clean_dbos: None, config: DBOSConfig) -> None:
    for bad in ("a-string", [3], [""]):
        with pytest.raises(DBOSException, match="listen_queues"):
            DBOS.listen_queues(bad)  # type: ignore[arg-type]
    DBOS.listen_queues(["first"])
    with pytest.raises(DBOSException, match="once"):
        DBOS.listen_queues(["second"])
    launch(config)
    with pytest.raises(DBOSException, match=r"before DBOS\.launch"):
        DBOS.listen_queues(["third"])
