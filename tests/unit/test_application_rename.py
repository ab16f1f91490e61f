"""The pure rules of rename_application: argument checks and name clashes."""

from __future__ import annotations

import pytest

from dbos._core.application_rename import RenameRequest, clashes, nothing_moved, rename_request
from dbos._core.workflow_filters import InvalidArgument


def test_a_valid_request_keeps_its_arguments() -> None:
    assert rename_request("old", "new-app", False, 10) == RenameRequest("old", "new-app", False, 10)
    assert rename_request(None, "new-app", True, 1).describe_source() == "unclaimed rows"


@pytest.mark.parametrize(
    ("old", "new", "adopt", "batch", "message"),
    [
        (None, "new-app", False, 10, "adopt_unclaimed_rows=True"),
        ("same", "same", False, 10, "both 'same'"),
        ("old", "UPPER", False, 10, "Invalid new application name"),
        ("old", 7, False, 10, "Invalid new application name"),
        ("old", "new-app", False, 0, "batch_size"),
        ("old", "new-app", False, True, "batch_size"),
        ("old", "new-app", "yes", 10, "adopt_unclaimed_rows must be a bool"),
        ("", "new-app", False, 10, "old_name"),
    ],
)
def test_bad_requests_say_what_is_wrong(
    old: object, new: object, adopt: object, batch: object, message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        rename_request(old, new, adopt, batch)


def test_names_the_new_owner_has_or_that_move_twice_clash() -> None:
    request = RenameRequest("old", "new-app", True, 10)
    moving = {"queues": ["q1", "q2"], "versions": ["v1", "v1"], "schedules": []}
    owned = {"queues": ["q2"], "versions": [], "schedules": ["s1"]}
    assert clashes(request, moving, owned) == [
        "queue 'q2' is already registered by application 'new-app'",
        "application version 'v1' is both owned and unclaimed",
    ]
    assert clashes(request, {"queues": ["q1"]}, owned) == []


def test_nothing_moved_only_when_every_count_is_zero() -> None:
    assert nothing_moved({"queues": 0, "steps": 0})
    assert not nothing_moved({"queues": 0, "steps": 3})
