"""pydantic validators on workflows: run when a workflow executes from its row, not on calls."""

from __future__ import annotations

import pytest
from system_tables import SystemTables, launch, relaunch

from dbos import (
    DBOS,
    DBOSConfig,
    SetWorkflowID,
    make_pydantic_args_validator,
    pydantic_args_validator,
)

FINISHED = {"SUCCESS", "ERROR", "MAX_RECOVERY_ATTEMPTS_EXCEEDED", "CANCELLED"}


def test_a_recovered_workflow_gets_coerced_arguments_and_bad_ones_fail_it(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    def double(n: int) -> object:
        return n * 2

    wf = DBOS.workflow(name="double", validate_args=make_pydantic_args_validator(double))(double)

    launch(config)
    with SetWorkflowID("coerced"):
        assert wf("3") == "33"  # a direct call is not validated
    with SetWorkflowID("invalid"):
        assert wf("three") == "threethree"
    system_tables.force_pending("coerced")
    system_tables.force_pending("invalid")
    relaunch(config)  # recovery runs the workflows from their rows: the validator runs

    assert system_tables.wait_for_status("coerced", FINISHED)["status"] == "SUCCESS"
    assert DBOS.get_result("coerced") == 6
    assert system_tables.wait_for_status("invalid", FINISHED)["status"] == "ERROR"
    with pytest.raises(ValueError, match="Argument validation failed for workflow:\n") as caught:
        DBOS.get_result("invalid")
    assert "Argument 'n': Input should be a valid integer" in str(caught.value)


def test_the_pydantic_marker_validates_against_the_decorated_functions_hints(
    clean_dbos: None, config: DBOSConfig, system_tables: SystemTables
) -> None:
    @DBOS.workflow(validate_args=pydantic_args_validator)
    def double(n: int) -> object:
        return n * 2

    launch(config)
    with SetWorkflowID("marked"):
        assert double("4") == "44"
    system_tables.force_pending("marked")
    relaunch(config)
    assert system_tables.wait_for_status("marked", FINISHED)["status"] == "SUCCESS"
    assert DBOS.get_result("marked") == 8
