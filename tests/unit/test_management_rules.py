"""The pure rules of listing and management: filters, scoping, fork bounds, GC cutoffs."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from dbos._core import management_rules as rules
from dbos._core.workflow_filters import InvalidArgument, build_workflow_filter, epoch_ms


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1970-01-01T00:00:01Z", 1000),
        ("1970-01-01T00:00:01", 1000),  # naive means UTC
        ("1970-01-01T01:00:01+01:00", 1000),
        ("1970-01-01T00:00:01.5z", 1500),
        (datetime(1970, 1, 1, 0, 0, 2, tzinfo=timezone.utc), 2000),
        (None, None),
    ],
)
def test_times_become_epoch_milliseconds(text: Any, expected: int | None) -> None:
    assert epoch_ms(text, "t") == expected


def test_lists_are_deduplicated_tuples_and_strings_become_one_item() -> None:
    f = build_workflow_filter(None, {"name": ["a", "b", "a"], "status": "ERROR"})
    assert (f.names, f.statuses) == (("a", "b"), ("ERROR",))
    assert build_workflow_filter(None, {}).names is None


def test_queues_only_narrows_to_active_statuses_unless_a_status_is_given() -> None:
    assert build_workflow_filter(None, {"queues_only": True}).statuses == (
        "DELAYED", "ENQUEUED", "PENDING",
    )  # fmt: skip
    f = build_workflow_filter(None, {"queues_only": True, "status": "SUCCESS"})
    assert (f.statuses, f.queued) == (("SUCCESS",), True)


@pytest.mark.parametrize(
    ("caller", "args", "scope"),
    [
        ("app", {}, "app"),
        (None, {}, None),  # a caller with no application sees every row
        ("app", {"workflow_ids": ["w"]}, None),  # IDs are global addresses
        ("app", {"application_name": "other"}, None),  # the explicit filter replaces it
    ],
)
def test_application_scoping(caller: str | None, args: dict[str, Any], scope: str | None) -> None:
    assert build_workflow_filter(caller, args).scope_app == scope


def test_attributes_are_checked_and_serialised() -> None:
    f = build_workflow_filter(None, {"attributes": {"b": 1, "a": [1]}})
    assert f.attributes_json == '{"a": [1], "b": 1}'
    with pytest.raises(InvalidArgument, match="JSON-serializable"):
        build_workflow_filter(None, {"attributes": {"a": {1, 2}}})


def test_start_step_bounds() -> None:
    rules.check_start_step("w", 4, 3)
    with pytest.raises(InvalidArgument, match="highest valid start_step is 4"):
        rules.check_start_step("w", 5, 3)
    for bad in (0, True, 2.0, "1"):
        with pytest.raises(InvalidArgument):
            rules.start_step(bad)


def test_timeouts_and_ids() -> None:
    assert rules.timeout_ms(1.25) == 1250
    assert rules.timeout_ms(0.0001) == 1
    assert rules.timeout_ms(None) is None
    assert rules.workflow_ids(["a", "b", "a"]) == ["a", "b"]
    with pytest.raises(InvalidArgument):
        rules.workflow_ids("ab")


def test_attribute_updates_replace_or_merge_top_level_keys() -> None:
    current = {"a": 1, "b": {"x": 1}}
    assert rules.merged_attributes(current, {"b": {"y": 2}}, merge=True) == {
        "a": 1, "b": {"y": 2},
    }  # fmt: skip
    assert rules.merged_attributes(current, {"c": 3}, merge=False) == {"c": 3}
    assert rules.merged_attributes(current, None, merge=True) == current
    assert rules.merged_attributes(current, None, merge=False) is None
    assert rules.merged_attributes(None, {"c": 3}, merge=True) == {"c": 3}


def test_gc_cutoff_takes_the_later_bound() -> None:
    assert rules.gc_cutoff(100, 70) == 100
    assert rules.gc_cutoff(50, 70) == 70
    assert rules.gc_cutoff(None, 70) == 70
    assert rules.gc_cutoff(None, None) is None


def test_gc_batches_and_pauses_depend_on_whether_writers_exclude_each_other() -> None:
    assert rules.gc_batch_size(None, serialized_writes=True) == 1_000
    assert rules.gc_batch_size(None, serialized_writes=False) == 10_000
    assert rules.gc_batch_size(7, serialized_writes=True) == 7
    assert rules.gc_pause_ms(40, serialized_writes=True) == 40
    assert rules.gc_pause_ms(40, serialized_writes=False) == 0
