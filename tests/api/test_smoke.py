from dbos import DBOS, SetWorkflowID


def test_step_is_not_reexecuted_when_a_completed_workflow_is_called_again(dbos: type[DBOS]) -> None:
    calls: list[int] = []

    @DBOS.step()
    def add_one(x: int) -> int:
        calls.append(x)
        return x + 1

    @DBOS.workflow()
    def two_steps(x: int) -> int:
        return add_one(add_one(x))

    with SetWorkflowID("wf-1"):
        assert two_steps(1) == 3
    with SetWorkflowID("wf-1"):
        assert two_steps(1) == 3
    assert calls == [1, 2]
