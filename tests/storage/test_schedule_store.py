"""The storage conformance suite for ScheduleStore: the same on every backend."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dbos._core.schedule_rules import ScheduleDefinition, ScheduleFilter
from dbos._storage.schedules import ScheduleOwnedElsewhere
from dbos._storage.system_database import SystemDatabase


def definition(name: str, **overrides: object) -> ScheduleDefinition:
    fields: dict[str, object] = {
        "schedule_name": name,
        "workflow_name": "wf",
        "workflow_class_name": None,
        "schedule": "* * * * *",
        "context": "ctx-" + name,
        "automatic_backfill": False,
        "cron_timezone": None,
        "queue_name": None,
        "application_name": "app",
    }
    fields.update(overrides)
    return ScheduleDefinition(**fields)  # type: ignore[arg-type]


def names(db: SystemDatabase, **filters: object) -> list[str]:
    return [r.definition.schedule_name for r in db.schedules.list(ScheduleFilter(**filters))]  # type: ignore[arg-type]


def test_a_schedule_round_trips_and_its_name_is_taken_once(db: SystemDatabase) -> None:
    stored = definition("s", workflow_class_name="C", cron_timezone="Asia/Tokyo", queue_name="q")
    stored = replace(stored, automatic_backfill=True)
    assert db.schedules.insert("id-1", "ACTIVE", stored)
    assert not db.schedules.insert("id-2", "ACTIVE", definition("s", application_name="other"))
    record = db.schedules.get("s")
    assert record is not None
    assert (record.schedule_id, record.status, record.last_fired_at) == ("id-1", "ACTIVE", None)
    assert record.definition == stored
    assert db.schedules.get("missing") is None


def test_lists_filter_by_status_workflow_prefix_and_owner(db: SystemDatabase) -> None:
    db.schedules.insert("1", "ACTIVE", definition("a-one"))
    db.schedules.insert("2", "PAUSED", definition("a-two", workflow_name="other"))
    db.schedules.insert("3", "ACTIVE", definition("b_one", application_name=None))
    db.schedules.insert("4", "ACTIVE", definition("c%one", application_name="them"))
    assert names(db) == ["a-one", "a-two", "b_one", "c%one"]
    assert names(db, statuses=("PAUSED",)) == ["a-two"]
    assert names(db, statuses=("ACTIVE", "PAUSED"), workflow_names=("wf",)) == [
        "a-one",
        "b_one",
        "c%one",
    ]
    assert names(db, name_prefixes=("a-",)) == ["a-one", "a-two"]
    assert names(db, name_prefixes=("b_", "c%")) == ["b_one", "c%one"]
    assert names(db, name_prefixes=("_",)) == []  # LIKE wildcards match themselves
    assert names(db, scope_app="app") == ["a-one", "a-two", "b_one"]
    assert names(db, application_names=("them",)) == ["c%one"]
    assert names(db, statuses=()) == []
    assert names(db, name_prefixes=()) == []


def test_apply_keeps_id_status_and_last_fire_and_takes_the_definition(
    db: SystemDatabase,
) -> None:
    db.schedules.insert("kept-id", "PAUSED", definition("s"))
    db.schedules.set_last_fired("kept-id", "2030-01-01T00:00:00+00:00")
    changed = definition("s", schedule="@daily", context="new", automatic_backfill=True)
    db.schedules.apply([("ignored-id", changed), ("new-id", definition("fresh"))])
    record = db.schedules.get("s")
    assert record is not None
    assert (record.schedule_id, record.status) == ("kept-id", "PAUSED")
    assert record.last_fired_at == "2030-01-01T00:00:00+00:00"
    assert record.definition == changed
    fresh = db.schedules.get("fresh")
    assert fresh is not None and (fresh.schedule_id, fresh.status) == ("new-id", "ACTIVE")


def test_apply_claims_unclaimed_schedules_and_refuses_another_owners(db: SystemDatabase) -> None:
    db.schedules.insert("1", "ACTIVE", definition("unclaimed", application_name=None))
    db.schedules.insert("2", "ACTIVE", definition("theirs", application_name="them"))
    db.schedules.apply([("x", definition("unclaimed", schedule="@hourly"))])
    claimed = db.schedules.get("unclaimed")
    assert claimed is not None and claimed.definition.application_name == "app"
    with pytest.raises(ScheduleOwnedElsewhere) as refused:
        db.schedules.apply(
            [("y", definition("brand-new")), ("z", definition("theirs", schedule="@daily"))]
        )
    assert (refused.value.schedule_name, refused.value.owner) == ("theirs", "them")
    assert db.schedules.get("brand-new") is None  # all or nothing
    theirs = db.schedules.get("theirs")
    assert theirs is not None and theirs.definition.schedule == "* * * * *"
    # A caller acting for no application may redefine any schedule; the owner stays.
    db.schedules.apply([("w", definition("theirs", schedule="@daily", application_name=None))])
    theirs = db.schedules.get("theirs")
    assert theirs is not None
    assert (theirs.definition.schedule, theirs.definition.application_name) == ("@daily", "them")


def test_delete_and_status_changes_are_scoped_to_the_owner(db: SystemDatabase) -> None:
    db.schedules.insert("1", "ACTIVE", definition("theirs", application_name="them"))
    db.schedules.insert("2", "ACTIVE", definition("ours"))
    assert not db.schedules.set_status("theirs", "PAUSED", "app")
    assert not db.schedules.delete("theirs", "app")
    assert db.schedules.set_status("ours", "PAUSED", "app")
    assert db.schedules.set_status("theirs", "PAUSED", None)  # acting for every application
    assert [r.status for r in db.schedules.list(ScheduleFilter())] == ["PAUSED", "PAUSED"]
    assert db.schedules.delete("ours", "app")
    assert not db.schedules.delete("ours", "app")
    assert db.schedules.delete("theirs", None)
    assert names(db) == []


def test_last_fire_is_written_by_schedule_id(db: SystemDatabase) -> None:
    db.schedules.insert("old", "ACTIVE", definition("s"))
    db.schedules.delete("s", "app")
    db.schedules.insert("new", "ACTIVE", definition("s"))
    db.schedules.set_last_fired("old", "2030-01-01T00:00:00+00:00")  # the deleted one's
    record = db.schedules.get("s")
    assert record is not None and record.last_fired_at is None
