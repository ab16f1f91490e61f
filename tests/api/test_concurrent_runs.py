"""Two runs of one workflow at once (a re-claim or resume while the first still ran).

The run that loses a checkpoint race either owns the row (it was the later claim) and goes
on, adopting what the other recorded, or it does not and waits for the owner's outcome.
Either way the workflow finishes: it is never left PENDING with nobody to finish it.
The other run is simulated by writing its checkpoint (and, for the second case, its claim)
straight into the system tables while this process's run is inside the step.
"""

from __future__ import annotations

import threading
from typing import Any

from system_tables import SystemTables, pickled

from dbos import DBOS, SetWorkflowID

INSERT_STEP = (
    "INSERT INTO operation_outputs (workflow_uuid, function_id, function_name, output, "
    "started_at_epoch_ms, completed_at_epoch_ms) VALUES (?, ?, ?, ?, 1, 2)"
)
FETCH = "_racing_workflow.<locals>.fetch"  # the step's recorded name


def _racing_workflow(entered: threading.Event, proceed: threading.Event, calls: list[str]) -> Any:
    @DBOS.step()
    def fetch() -> str:
        calls.append("fetch")
        entered.set()
        assert proceed.wait(10)
        return "this run's value"

    @DBOS.step()
    def finish(value: str) -> str:
        calls.append("finish")
        return value + "!"

    @DBOS.workflow()
    def raced() -> str:
        return finish(fetch())

    return raced


def test_the_owning_run_adopts_the_other_runs_checkpoint_and_finishes(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    entered, proceed, calls = threading.Event(), threading.Event(), []
    raced = _racing_workflow(entered, proceed, calls)
    with SetWorkflowID("raced"):
        handle = DBOS.start_workflow(raced)
    assert entered.wait(10)
    # The other run got to record the first step before this one did.
    system_tables.execute(INSERT_STEP, ("raced", 1, FETCH, pickled("the other run's value")))
    proceed.set()
    assert handle.get_result() == "the other run's value!"  # adopted, then carried on
    assert calls == ["fetch", "finish"]  # the replay ran no step twice
    assert system_tables.workflow("raced")["status"] == "SUCCESS"


def test_a_run_that_no_longer_owns_the_row_waits_for_the_owners_outcome(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    entered, proceed, calls = threading.Event(), threading.Event(), []
    raced = _racing_workflow(entered, proceed, calls)
    with SetWorkflowID("claimed-away"):
        handle = DBOS.start_workflow(raced)
    assert entered.wait(10)
    # Another executor claimed the row and recorded the step first.
    system_tables.execute(
        "UPDATE workflow_status SET owner_xid = 'other-run' WHERE workflow_uuid = ?",
        ("claimed-away",),
    )
    system_tables.execute(INSERT_STEP, ("claimed-away", 1, FETCH, pickled("theirs")))
    proceed.set()
    # This run stops; the owner's outcome, when it lands, is what the caller gets.
    system_tables.execute(
        "UPDATE workflow_status SET status = 'SUCCESS', output = ? WHERE workflow_uuid = ?",
        (pickled("theirs!"), "claimed-away"),
    )
    assert handle.get_result() == "theirs!"
    assert calls == ["fetch"]
