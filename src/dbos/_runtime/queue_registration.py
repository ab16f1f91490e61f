"""Queues registered in the database: register, find, list, delete, change settings.

Every process picks the changes up through its QueueCatalog. The caller acts for its
runtime's application; a DBOSClient without an application_name acts for every
application (spec 13.8): it sees every queue and may change any, keeping its owner.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ParamSpec, TypeVar

from dbos._core.queue_rules import (
    ON_CONFLICT_MODES,
    QueueLimits,
    overwrites_on_conflict,
    revalidate,
)
from dbos._error import DBOSException
from dbos._runtime.effects import Flow, Offload
from dbos._runtime.runtime import Runtime

logger = logging.getLogger("dbos")
P = ParamSpec("P")
T = TypeVar("T")
# Limits a legacy partition_queue queue cannot take: its concurrency, worker concurrency
# and limiter already apply per partition.
_NOT_ON_LEGACY_QUEUES = frozenset(
    {
        "global_concurrency",
        "partition_concurrency",
        "partition_worker_concurrency",
        "partition_limiter",
    }
)


def as_flow(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Flow[T]:
    """One storage call as a flow, so async APIs run it on the storage threads."""
    result: T = yield Offload(lambda: func(*args, **kwargs), ())
    return result


def runs_latest_version(rt: Runtime) -> bool:
    """Whether this process runs the latest registered version (or none is registered)."""
    versions = rt.db.versions.list(rt.app_name)
    return not versions or versions[0].version_name == rt.app_version


def _owned_by_another(owner: str | None, caller: str | None) -> bool:
    return caller is not None and owner is not None and owner != caller


def register_queue(
    rt: Runtime, name: str, limits: QueueLimits, on_conflict: str, *, app_name: str | None
) -> None:
    """Register ``name`` with ``limits`` for ``app_name``; a taken name follows ``on_conflict``.

    A name registered by another application is refused whatever ``on_conflict`` says.
    """
    if on_conflict not in ON_CONFLICT_MODES:
        raise DBOSException(
            f"on_conflict must be one of {', '.join(ON_CONFLICT_MODES)}, got {on_conflict!r}"
        )
    store = rt.db.queue_settings
    while not store.insert(name, limits, app_name, rt.clock.now_ms()):
        existing = store.get(name)
        if existing is None:
            continue  # deleted between the insert and the read: insert again
        owner = existing.application_name
        if _owned_by_another(owner, app_name):
            raise DBOSException(
                f"Queue {name} is already registered by application '{owner}'; to use it "
                f"from '{app_name}', re-own its rows first with dbos rename-application"
            )
        latest = on_conflict == "update_if_latest_version" and runs_latest_version(rt)
        if overwrites_on_conflict(on_conflict, latest) and existing.limits != limits:
            store.update(name, limits, app_name, rt.clock.now_ms())
        break
    else:
        logger.info("Registered queue %s in the system database", name)
    if name in rt.registry.queues:
        logger.warning(
            "Queue %s is also declared in this process, whose settings it uses here", name
        )
    _changed(rt)


def registered_settings(rt: Runtime, name: str) -> QueueLimits | None:
    """The settings of ``name`` if this application (or nobody) registered it."""
    record = rt.db.queue_settings.get(name)
    if record is None or _owned_by_another(record.application_name, rt.app_name):
        return None
    return record.limits


def current_settings(rt: Runtime, name: str) -> QueueLimits:
    """The settings of ``name``, whoever registered it (names are unique)."""
    record = rt.db.queue_settings.get(name)
    if record is None:
        raise DBOSException(f"Queue {name} is not registered in the system database")
    return record.limits


def registered_queues(rt: Runtime, app_name: str | None = None) -> list[str]:
    """Names of the queues registered by ``app_name`` (default: this application) or nobody."""
    return [r.name for r in rt.db.queue_settings.list(app_name or rt.app_name)]


def delete_queue(rt: Runtime, name: str) -> None:
    """Unregister ``name``; its ENQUEUED workflows wait until it is registered again."""
    if rt.db.queue_settings.delete(name, rt.app_name):
        _changed(rt)


def change_settings(rt: Runtime, name: str, changes: dict[str, Any], alias: bool = False) -> None:
    """Change some settings of ``name``, checked against the others as they are now.

    ``alias``: the change came through the deprecated ``concurrency``, which on a legacy
    partition_queue queue is the per-partition concurrency and so may be set.
    """

    def apply(current: QueueLimits) -> QueueLimits:
        refused = set(changes) & _NOT_ON_LEGACY_QUEUES
        if alias:
            refused.discard("global_concurrency")
        if current.partition_queue and refused:
            names = ", ".join(sorted(refused))
            raise DBOSException(
                f"Queue {name} uses the legacy partition_queue mode: its {names} cannot be "
                "set; register it again without partition_queue instead"
            )
        turning_legacy = changes.get("partition_queue") and not current.partition_queue
        if turning_legacy and current.global_concurrency is not None:
            raise ValueError("partition_queue cannot be combined with global_concurrency")
        return revalidate(replace(current, **changes))

    if rt.db.queue_settings.change(name, rt.app_name, apply, rt.clock.now_ms()) is None:
        raise DBOSException(f"Queue {name} is not registered in the system database")
    _changed(rt)


def _changed(rt: Runtime) -> None:
    rt.queue_catalog.invalidate()
    rt.wake_queues()
