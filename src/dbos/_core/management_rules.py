"""Rules for managing workflows: valid arguments, fork bounds, and garbage-collection cutoffs.

Pure decisions shared by every caller of the management service (the DBOS facade, the
client and, through the client, the CLI), so that "what may be forked from where" or
"which rows may a garbage collection delete" is answered in one place. Also when a
DELAYED workflow joins its queue.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from dbos._core.workflow_filters import InvalidArgument

# Rows per garbage-collection transaction. Where one writer excludes all others (SQLite),
# running workflows wait out each batch, so batches are kept to tens of milliseconds.
GC_BATCH_SIZE = 10_000
GC_BATCH_SIZE_SERIALIZED_WRITES = 1_000


def workflow_ids(value: object, name: str = "workflow_ids") -> list[str]:
    """A list of non-empty workflow IDs, without duplicates, in the order given."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InvalidArgument(f"{name} must be a list of workflow IDs, got {value!r}")
    for item in value:
        if not isinstance(item, str) or not item:
            raise InvalidArgument(f"{name} must hold non-empty strings, got {item!r}")
    return list(dict.fromkeys(value))


def start_step(value: object, name: str = "start_step") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgument(f"{name} must be an integer >= 1, got {value!r}")
    return value


def check_start_step(source_id: str, step: int, last_function_id: int) -> None:
    """A fork or rewind may start at any recorded step, or just after the last one.

    Starting further on would leave a gap of steps that were never recorded yet are treated
    as done, which is never what the caller meant.
    """
    if step > last_function_id + 1:
        raise InvalidArgument(
            f"Cannot start workflow {source_id} at step {step}: its last recorded step is "
            f"{last_function_id}, so the highest valid start_step is {last_function_id + 1}"
        )


def timeout_ms(value: object) -> int | None:
    """``timeout_seconds`` as milliseconds; it must be a number > 0 when given."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidArgument(f"timeout_seconds must be a number > 0, got {value!r}")
    return max(1, int(value * 1000))


def optional_name(value: object, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidArgument(f"{name} must be a non-empty string, got {value!r}")
    return value


def replacement_children(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and k and v for k, v in value.items()
    ):
        raise InvalidArgument(
            f"replacement_children must map child workflow IDs to workflow IDs, got {value!r}"
        )
    return dict(value)


def merged_attributes(
    current: Mapping[str, Any] | None, update: Mapping[str, Any] | None, merge: bool
) -> dict[str, Any] | None:
    """The attributes after an update: a replacement, or a merge of top-level keys.

    Merging None changes nothing; replacing with None clears the attributes.
    """
    if not merge:
        return None if update is None else dict(update)
    if update is None:
        return None if current is None else dict(current)
    return {**(current or {}), **update}


def positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgument(f"{name} must be an integer >= 1, got {value!r}")
    return value


def gc_batch_size(value: object, serialized_writes: bool) -> int:
    """The rows per GC transaction: as asked, else a default that suits the database."""
    if value is None:
        return GC_BATCH_SIZE_SERIALIZED_WRITES if serialized_writes else GC_BATCH_SIZE
    return positive_int(value, "batch_size")


def gc_pause_ms(batch_ms: int, serialized_writes: bool) -> int:
    """How long garbage collection rests after a batch that took ``batch_ms``.

    Where writers exclude each other, a batch makes every running workflow's checkpoint
    wait; resting as long as the batch took leaves them at least half of the time, however
    long the collection runs. Elsewhere batches block nobody, so they follow at once.
    """
    return batch_ms if serialized_writes else 0


def epoch_ms_arg(value: object, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgument(f"{name} must be epoch milliseconds (an integer >= 0)")
    return value


def gc_cutoff(cutoff_ms: int | None, newest_kept_created_at: int | None) -> int | None:
    """The created_at before which garbage collection deletes finished workflows.

    Two retention bounds combine: an age (``cutoff_ms``) and a row count (the created_at of
    the newest N-th row, ``newest_kept_created_at``). A row goes when either bound says so,
    so the later of the two cutoffs wins. None means there is nothing to delete.
    """
    bounds = [c for c in (cutoff_ms, newest_kept_created_at) if c is not None]
    return max(bounds) if bounds else None


def delay_until_ms(delay_seconds: object, delay_until_epoch_ms: object, now_ms: int) -> int:
    """When a DELAYED workflow should join its queue: exactly one of the two, >= 0."""
    if (delay_seconds is None) == (delay_until_epoch_ms is None):
        raise InvalidArgument("Give exactly one of delay_seconds and delay_until_epoch_ms")
    if delay_until_epoch_ms is not None:
        return int(epoch_ms_arg(delay_until_epoch_ms, "delay_until_epoch_ms") or 0)
    if (
        isinstance(delay_seconds, bool)
        or not isinstance(delay_seconds, (int, float))
        or not 0 <= delay_seconds < math.inf
    ):
        raise InvalidArgument(f"delay_seconds must be a number >= 0, got {delay_seconds!r}")
    return now_ms + int(delay_seconds * 1000)
