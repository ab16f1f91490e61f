"""Methods as workflows (classes, configured instances) and role-based access."""

from __future__ import annotations

import threading

import pytest
from system_tables import SystemTables, launch, relaunch, wait_until

from dbos import (
    DBOS,
    DBOSConfig,
    DBOSConfiguredInstance,
    DBOSContextSetAuth,
    Queue,
    SetWorkflowID,
)
from dbos.error import DBOSConflictingWorkflowError, DBOSException, DBOSNotAuthorizedError


def test_instance_static_and_class_methods_run_as_workflows(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.dbos_class()
    class Shop(DBOSConfiguredInstance):
        def __init__(self, config_name: str, markup: int) -> None:
            super().__init__(config_name)
            self.markup = markup

        @DBOS.workflow()
        def price(self, base: int) -> int:
            return self.add(base)

        @DBOS.step()
        def add(self, base: int) -> int:
            return base + self.markup

        @staticmethod
        @DBOS.workflow()
        def free(x: int) -> int:
            return x

        @classmethod
        @DBOS.workflow()
        def named(cls, x: int) -> str:
            return f"{cls.__name__}:{x}"

    shop = Shop("eu", markup=5)
    with SetWorkflowID("price"):
        assert shop.price(10) == 15
    assert Shop.free(3) == 3
    with SetWorkflowID("named"):
        assert Shop.named(2) == "Shop:2"
    row = system_tables.workflow("price")
    # The registered class name defaults to the class's __qualname__.
    assert row is not None and (row["class_name"], row["config_name"]) == (Shop.__qualname__, "eu")
    assert system_tables.workflow("named")["class_name"] == Shop.__qualname__  # type: ignore[index]
    assert DBOS.start_workflow(shop.price, 1).get_result() == 6  # bound methods start too


def test_an_instance_method_is_recovered_on_its_configured_instance(
    config: DBOSConfig, clean_dbos: None, system_tables: SystemTables
) -> None:
    release = threading.Event()
    seen: list[str] = []

    @DBOS.dbos_class()
    class Greeter(DBOSConfiguredInstance):
        @DBOS.step()
        def wait(self) -> None:
            release.wait(10)

        @DBOS.workflow()
        def greet(self, name: str) -> str:
            self.wait()
            seen.append(self.config_name)
            return f"{self.config_name} greets {name}"

    Greeter("formal")
    informal = Greeter("informal")
    launch(config)
    with SetWorkflowID("greet"):
        DBOS.start_workflow(informal.greet, "ada")
    wait_until(lambda: (system_tables.workflow("greet") or {}).get("status") == "PENDING")
    relaunch(config)  # the original run is left hanging in the old runtime
    release.set()
    assert DBOS.retrieve_workflow("greet").get_result() == "informal greets ada"
    assert "informal" in seen


def test_two_instances_with_one_config_name_are_refused(dbos: type[DBOS]) -> None:
    @DBOS.dbos_class()
    class Thing(DBOSConfiguredInstance):
        pass

    Thing("a")
    with pytest.raises(DBOSException):
        Thing("a")


def test_an_unregistered_class_method_is_refused(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    class Loose:
        @DBOS.workflow()
        def run(self) -> int:
            return 1

    with pytest.raises(DBOSException, match="not properly registered"):
        Loose().run()
    assert system_tables.workflows() == []


def test_reusing_an_id_on_another_instance_conflicts(dbos: type[DBOS]) -> None:
    @DBOS.dbos_class()
    class Counter(DBOSConfiguredInstance):
        @DBOS.workflow()
        def count(self) -> str:
            return self.config_name

    first, second = Counter("first"), Counter("second")
    with SetWorkflowID("count"):
        first.count()
    with SetWorkflowID("count"), pytest.raises(DBOSConflictingWorkflowError):
        second.count()


def test_required_roles_admit_one_matching_role_and_assume_it(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.required_roles(["admin", "operator"])
    @DBOS.workflow()
    def guarded() -> tuple[str | None, str | None]:
        return DBOS.authenticated_user, DBOS.assumed_role

    with pytest.raises(DBOSNotAuthorizedError, match="without authentication"):
        guarded()
    with DBOSContextSetAuth("eve", ["guest"]), pytest.raises(DBOSNotAuthorizedError) as denied:
        guarded()
    assert denied.value.status_code == 403
    assert system_tables.workflows() == []  # a refused call writes nothing
    with SetWorkflowID("ok"), DBOSContextSetAuth("bob", ["user", "operator"]):
        assert guarded() == ("bob", "operator")
    row = system_tables.workflow("ok")
    assert row is not None
    assert (row["authenticated_user"], row["assumed_role"]) == ("bob", "operator")


def test_class_default_roles_apply_unless_a_method_names_its_own(dbos: type[DBOS]) -> None:
    @DBOS.dbos_class()
    @DBOS.default_required_roles(["staff"])
    class Office:
        @staticmethod
        @DBOS.workflow()
        def staff_only() -> str:
            return "staff"

        @staticmethod
        @DBOS.required_roles(["boss"])
        @DBOS.workflow()
        def boss_only() -> str:
            return "boss"

    with DBOSContextSetAuth("ann", ["staff"]):
        assert Office.staff_only() == "staff"
        with pytest.raises(DBOSNotAuthorizedError):
            Office.boss_only()


def test_authentication_is_restored_when_a_workflow_is_recovered(
    config: DBOSConfig, clean_dbos: None, system_tables: SystemTables
) -> None:
    release = threading.Event()

    @DBOS.step()
    def wait() -> None:
        release.wait(10)

    @DBOS.required_roles(["admin"])
    @DBOS.workflow()
    def audited() -> tuple[str | None, list[str] | None, str | None]:
        wait()
        return DBOS.authenticated_user, DBOS.authenticated_roles, DBOS.assumed_role

    launch(config)
    with SetWorkflowID("audited"), DBOSContextSetAuth("root", ["admin"]):
        DBOS.start_workflow(audited)
    wait_until(lambda: (system_tables.workflow("audited") or {}).get("status") == "PENDING")
    relaunch(config)
    release.set()
    assert DBOS.retrieve_workflow("audited").get_result() == ("root", ["admin"], "admin")


def test_set_authentication_sets_the_current_context(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def whoami() -> str | None:
        return DBOS.authenticated_user

    DBOS.set_authentication("carol", ["reader"])
    assert whoami() == "carol"
    assert DBOS.authenticated_roles == ["reader"]


def test_a_queued_workflow_whose_caller_lacks_its_roles_fails_when_dequeued(
    dbos: type[DBOS], system_tables: SystemTables
) -> None:
    @DBOS.required_roles(["admin"])
    @DBOS.workflow()
    def guarded() -> str | None:
        return DBOS.assumed_role

    # Enqueued by name onto a queue nobody serves yet, so the stored roles can be edited
    # (as a client enqueue that never checked them would leave them) before the dequeue.
    with DBOSContextSetAuth("mallory", ["admin"]):
        with SetWorkflowID("demoted"):
            denied = DBOS.enqueue_workflow("guarded", guarded)
        with SetWorkflowID("admitted"):
            admitted = DBOS.enqueue_workflow("guarded", guarded)
    system_tables.execute(
        "UPDATE workflow_status SET authenticated_roles = ? WHERE workflow_uuid = ?",
        ('["guest"]', "demoted"),
    )
    Queue("guarded", polling_interval_sec=0.05)
    with pytest.raises(DBOSNotAuthorizedError, match="not authenticated for any"):
        denied.get_result()
    assert admitted.get_result() == "admin"
    row = system_tables.workflow("demoted")
    assert row is not None and (row["status"], row["output"]) == ("ERROR", None)
    assert system_tables.steps("demoted") == []  # its body never ran
