"""DBOS.patch and DBOS.deprecate_patch: one workflow's code changed under its recorded runs.

A deployment of changed code is simulated in one process: the workflow's body is swapped
(``deploy``), a recorded run is forced back to PENDING, and DBOS is relaunched, so recovery
replays that run on the new code. With ``enable_patching`` the application version is pinned
to "PATCHING_ENABLED", so the relaunched process recovers runs recorded by the old code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest
from system_tables import SystemTables, launch

from dbos import DBOS, DBOSConfig, SetWorkflowID
from dbos.error import DBOSException

FINISHED = {"SUCCESS", "ERROR", "MAX_RECOVERY_ATTEMPTS_EXCEEDED", "CANCELLED"}


@pytest.fixture
def patching_config(config: DBOSConfig, clean_dbos: None) -> DBOSConfig:
    return {**config, "enable_patching": True}


class App:
    """A workflow ``checkout`` whose body is whatever code is deployed."""

    def __init__(self, config: DBOSConfig, tables: SystemTables) -> None:
        self.config = config
        self.tables = tables
        self.calls: list[str] = []
        self.body: Callable[[], str] = self.v1

        @DBOS.step()
        def old_path() -> str:
            return self._call("old")

        @DBOS.step()
        def v2_path() -> str:
            return self._call("v2")

        @DBOS.step()
        def v3_path() -> str:
            return self._call("v3")

        @DBOS.step()
        def finish() -> str:
            return self._call(f"finish@{DBOS.step_id}")

        @DBOS.workflow(name="checkout")
        def checkout() -> str:
            return self.body()

        self.old_path, self.v2_path, self.v3_path = old_path, v2_path, v3_path
        self.finish, self.checkout = finish, checkout
        self.names = {
            step.__qualname__: label
            for step, label in ((old_path, "old"), (v2_path, "v2"), (v3_path, "v3"))
        }
        self.names[finish.__qualname__] = "finish"

    def _call(self, label: str) -> str:
        self.calls.append(label)
        return label

    # Three deployments of the same workflow, each patching the one before.
    def v1(self) -> str:
        return self.old_path() + "+" + self.finish()

    def v2(self) -> str:
        chosen = self.v2_path() if DBOS.patch("v2") else self.old_path()
        return chosen + "+" + self.finish()

    def v3(self) -> str:
        if DBOS.patch("v3"):
            chosen = self.v3_path()
        elif DBOS.patch("v2"):
            chosen = self.v2_path()
        else:
            chosen = self.old_path()
        return chosen + "+" + self.finish()

    def run(self, workflow_id: str) -> str:
        with SetWorkflowID(workflow_id):
            return self.checkout()

    def steps(self, workflow_id: str) -> list[str]:
        return [
            self.names.get(row["function_name"], row["function_name"])
            for row in self.tables.steps(workflow_id)
        ]

    def recover(self, body: Callable[[], str], *workflow_ids: str, drop_last: bool = True) -> None:
        """Deploy ``body`` and recover the runs, minus their last checkpoint if asked."""
        for workflow_id in workflow_ids:
            if drop_last:  # the crash came before the final step was checkpointed
                self.tables.execute(
                    "DELETE FROM operation_outputs WHERE workflow_uuid = ? AND function_id = "
                    "(SELECT MAX(function_id) FROM operation_outputs WHERE workflow_uuid = ?)",
                    (workflow_id, workflow_id),
                )
            self.tables.force_pending(workflow_id)
        self.body = body
        DBOS.destroy()
        launch(self.config)
        for workflow_id in workflow_ids:
            self.tables.wait_for_status(workflow_id, FINISHED)


@pytest.fixture
def app(patching_config: DBOSConfig, system_tables: SystemTables) -> Iterator[App]:
    application = App(patching_config, system_tables)
    launch(patching_config)
    yield application


def test_enable_patching_pins_the_application_version(app: App) -> None:
    assert DBOS.application_version == "PATCHING_ENABLED"


def test_a_new_execution_records_the_marker_as_step_one_and_takes_the_new_branch(
    app: App,
) -> None:
    app.body = app.v2
    assert app.run("fresh") == "v2+finish@3"
    assert app.steps("fresh") == ["DBOS.patch-v2", "v2", "finish"]
    marker = app.tables.steps("fresh")[0]
    assert (marker["function_id"], marker["output"], marker["error"]) == (1, None, None)
    assert marker["child_workflow_id"] is None


def test_a_pre_patch_execution_replays_the_old_branch_and_records_no_marker(app: App) -> None:
    assert app.run("pre-patch") == "old+finish@2"
    app.recover(app.v2, "pre-patch")

    assert DBOS.get_result("pre-patch") == "old+finish@2"
    assert app.steps("pre-patch") == ["old", "finish"]
    # The old step was replayed; only the final step, whose checkpoint was lost, ran again.
    assert app.calls == ["old", "finish@2", "finish@2"]


def test_a_patched_execution_replays_the_new_branch_and_consumes_its_marker(app: App) -> None:
    app.body = app.v2
    assert app.run("patched") == "v2+finish@3"
    app.recover(app.v2, "patched")

    assert DBOS.get_result("patched") == "v2+finish@3"
    assert app.steps("patched") == ["DBOS.patch-v2", "v2", "finish"]
    assert app.calls == ["v2", "finish@3", "finish@3"]


def test_chained_patches_pick_the_branch_each_recorded_run_took(app: App) -> None:
    assert app.run("run-v1") == "old+finish@2"
    app.body = app.v2
    assert app.run("run-v2") == "v2+finish@3"
    app.body = app.v3
    assert app.run("run-v3") == "v3+finish@3"
    app.calls.clear()

    app.recover(app.v3, "run-v1", "run-v2", "run-v3")

    assert DBOS.get_result("run-v1") == "old+finish@2"
    assert DBOS.get_result("run-v2") == "v2+finish@3"
    assert DBOS.get_result("run-v3") == "v3+finish@3"
    assert app.steps("run-v1") == ["old", "finish"]
    assert app.steps("run-v2") == ["DBOS.patch-v2", "v2", "finish"]
    assert app.steps("run-v3") == ["DBOS.patch-v3", "v3", "finish"]
    # The newest patch's marker is the only one a fresh run records.
    assert app.run("fresh-v3") == "v3+finish@3"
    assert app.steps("fresh-v3") == ["DBOS.patch-v3", "v3", "finish"]
    assert sorted(app.calls) == ["finish@2", "finish@3", "finish@3", "finish@3", "v3"]


def test_deprecate_patch_is_always_true_and_never_records_a_marker(app: App) -> None:
    def deprecated() -> str:
        assert DBOS.deprecate_patch("v2") is True
        return app.v2_path() + "+" + app.finish()

    app.body = deprecated
    assert app.run("after-deprecation") == "v2+finish@2"
    assert app.steps("after-deprecation") == ["v2", "finish"]


def test_deprecate_patch_steps_over_a_recorded_marker(app: App) -> None:
    app.body = app.v2
    assert app.run("patched") == "v2+finish@3"

    def deprecated() -> str:
        assert DBOS.deprecate_patch("v2") is True
        return app.v2_path() + "+" + app.finish()

    app.recover(deprecated, "patched")
    assert DBOS.get_result("patched") == "v2+finish@3"
    assert app.steps("patched") == ["DBOS.patch-v2", "v2", "finish"]
    assert app.calls == ["v2", "finish@3", "finish@3"]


def test_a_patch_that_does_not_apply_leaves_the_function_id_to_the_recorded_step(
    app: App,
) -> None:
    assert app.run("ids") == "old+finish@2"

    def checks_ids() -> str:
        applied = DBOS.patch("v2")
        deprecated = DBOS.deprecate_patch("v3")  # no v3 marker: consumes nothing
        step_ids = [app.old_path(), app.finish()]
        return f"{applied}/{deprecated}/{step_ids}"

    app.recover(checks_ids, "ids")
    assert DBOS.get_result("ids") == "False/True/['old', 'finish@2']"


def test_the_same_patch_called_twice_takes_two_function_ids(app: App) -> None:
    def twice() -> str:
        first, second = DBOS.patch("v2"), DBOS.patch("v2")
        return f"{first}/{second}/" + app.finish()

    app.body = twice
    assert app.run("twice") == "True/True/finish@3"
    assert app.steps("twice") == ["DBOS.patch-v2", "DBOS.patch-v2", "finish"]


def test_patch_async_and_deprecate_patch_async_decide_as_the_sync_forms(app: App) -> None:
    # Async workflows drive these through the async driver; here a sync workflow body runs
    # them on an event loop of its own, which sees the workflow's context just the same.
    async def probe() -> tuple[bool, bool]:
        return await DBOS.patch_async("v2"), await DBOS.deprecate_patch_async("v3")

    def async_v2() -> str:
        applied, deprecated = asyncio.run(probe())
        assert deprecated is True
        chosen = app.v2_path() if applied else app.old_path()
        return chosen + "+" + app.finish()

    assert app.run("async-old") == "old+finish@2"
    app.body = async_v2
    assert app.run("async-new") == "v2+finish@3"
    assert app.steps("async-new") == ["DBOS.patch-v2", "v2", "finish"]

    app.recover(async_v2, "async-old", "async-new")
    assert DBOS.get_result("async-old") == "old+finish@2"
    assert DBOS.get_result("async-new") == "v2+finish@3"
    assert app.steps("async-old") == ["old", "finish"]
    assert app.steps("async-new") == ["DBOS.patch-v2", "v2", "finish"]


def test_patching_requires_enable_patching(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def uses_patch() -> bool:
        return DBOS.patch("v2")

    @DBOS.workflow()
    def uses_deprecate_patch() -> bool:
        return DBOS.deprecate_patch("v2")

    message = "enable_patching must be True in DBOS configuration"
    for workflow in (uses_patch, uses_deprecate_patch):
        with pytest.raises(DBOSException, match=message):
            workflow()
    with pytest.raises(DBOSException, match=message):
        asyncio.run(DBOS.patch_async("v2"))


def test_patching_outside_a_workflow_raises(app: App) -> None:
    with pytest.raises(DBOSException, match=r"DBOS\.patch must be called from a workflow$"):
        DBOS.patch("v2")
    with pytest.raises(DBOSException, match="must be called from a workflow"):
        DBOS.deprecate_patch("v2")
    with pytest.raises(DBOSException, match="must be called from a workflow"):
        asyncio.run(DBOS.patch_async("v2"))
    with pytest.raises(DBOSException, match="must be called from a workflow"):
        asyncio.run(DBOS.deprecate_patch_async("v2"))


def test_patching_inside_a_step_raises(app: App) -> None:
    @DBOS.step()
    def patches_in_a_step() -> bool:
        return DBOS.patch("v2")

    def body() -> str:
        try:
            patches_in_a_step()
        except DBOSException as exc:
            return exc.message
        return "no error"

    app.body = body
    assert app.run("in-step") == "DBOS.patch must be called from a workflow"
