"""Rules for re-owning an application's rows: valid names, and which names would clash.

Pure decisions for ManagementService.rename_application (spec 13.8), kept apart from the
SQL so that "may this rename go ahead" is answered in one place and tested in milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dbos._core.settings import InvalidSettings, validate_app_name
from dbos._core.workflow_filters import InvalidArgument

# What the rename reports, in this order: rows re-owned per kind.
COUNT_KEYS = ("queues", "schedules", "versions", "workflows", "steps")

# Singular names for messages, keyed like the counts.
_KIND = {"queues": "queue", "schedules": "schedule", "versions": "application version"}


@dataclass(frozen=True)
class RenameRequest:
    """Checked arguments: rows owned by ``old_name`` (and unclaimed ones) go to ``new_name``."""

    old_name: str | None
    new_name: str
    adopt_unclaimed_rows: bool
    batch_size: int

    def describe_source(self) -> str:
        if self.old_name is None:
            return "unclaimed rows"
        suffix = " and unclaimed rows" if self.adopt_unclaimed_rows else ""
        return f"application {self.old_name!r}{suffix}"


def rename_request(
    old_name: object, new_name: object, adopt_unclaimed_rows: object, batch_size: object
) -> RenameRequest:
    """The arguments of a rename, or InvalidArgument saying what is wrong with them."""
    if not isinstance(adopt_unclaimed_rows, bool):
        raise InvalidArgument(f"adopt_unclaimed_rows must be a bool, got {adopt_unclaimed_rows!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidArgument(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if old_name is None and not adopt_unclaimed_rows:
        raise InvalidArgument(
            "Name the application to rename (old_name), or pass adopt_unclaimed_rows=True "
            "to claim rows that no application owns"
        )
    if old_name is not None and (not isinstance(old_name, str) or not old_name):
        raise InvalidArgument(f"old_name must be a non-empty string, got {old_name!r}")
    try:
        new = validate_app_name(new_name)
    except InvalidSettings as exc:
        raise InvalidArgument(f"Invalid new application name: {exc}") from exc
    if old_name == new:
        raise InvalidArgument(f"The old and new application names are both {new!r}")
    return RenameRequest(old_name, new, adopt_unclaimed_rows, batch_size)


def clashes(
    request: RenameRequest,
    moving: Mapping[str, Sequence[str]],
    owned_by_new: Mapping[str, Sequence[str]],
) -> list[str]:
    """Why the named rows cannot move; empty when they can.

    A name clashes when the new owner already has it, or when two moving rows share it (an
    application's own row and an unclaimed one). Keys are the named kinds of COUNT_KEYS
    (queues, schedules, versions).
    """
    problems: list[str] = []
    for kind, names in moving.items():
        taken = set(owned_by_new.get(kind, ()))
        seen: set[str] = set()
        for name in names:
            if name in taken:
                problems.append(
                    f"{_KIND[kind]} {name!r} is already registered by application "
                    f"{request.new_name!r}"
                )
            elif name in seen:
                problems.append(f"{_KIND[kind]} {name!r} is both owned and unclaimed")
            seen.add(name)
    return problems


def nothing_moved(counts: Mapping[str, int]) -> bool:
    return not any(counts.get(key, 0) for key in COUNT_KEYS)
