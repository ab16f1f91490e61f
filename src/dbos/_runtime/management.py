"""ManagementService: the one place that lists, cancels, resumes, deletes, forks and rewinds.

It needs only a system database (and, when there is one, the application database): no
registered workflow code. The DBOS facade and DBOSClient each build one (the CLI goes
through a DBOSClient), so a fix to "cancel" lands in one place (house rule 7).

A launched process passes hooks so that its own running workflows notice at once: a cancel
or delete stops a run here at its next durable operation, and a resume, fork or rewind wakes
this process's queue runner. Other processes notice through the database (a checkpoint
write returns the workflow's status; queue runners poll).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dbos._core import application_rename
from dbos._core import management_rules as rules
from dbos._core.serialization import PayloadCodec
from dbos._core.status import ACTIVE, INTERNAL_QUEUE
from dbos._core.workflow_filters import (
    InvalidArgument,
    attributes_json,
    build_workflow_filter,
    count,
    flag,
)
from dbos._error import (
    DBOSConflictingWorkflowError,
    DBOSException,
    DBOSNonExistentWorkflowError,
)
from dbos._runtime.ids import random_id, random_token
from dbos._runtime.introspection import (
    StepInfo,
    VersionInfo,
    WorkflowStatus,
    status_from_row,
    step_info_from_row,
    version_info,
)
from dbos._storage.records import ForkRequest, RewindRequest
from dbos._storage.renames import Owner
from dbos._storage.system_database import SystemDatabase

if TYPE_CHECKING:
    from dbos._storage.app_database import ApplicationDatabase


def _nothing(*_: Any) -> None:
    return None


@contextmanager
def checked_arguments() -> Iterator[None]:
    """Bad arguments surface as DBOSException, whichever rule refused them."""
    try:
        yield
    except InvalidArgument as exc:
        raise DBOSException(str(exc)) from exc


def _missing_error(missing: list[str]) -> DBOSNonExistentWorkflowError:
    return DBOSNonExistentWorkflowError("target", ", ".join(missing))


@dataclass(frozen=True)
class ForkOptions:
    """fork_workflow's keyword arguments."""

    application_version: str | None = None
    queue_name: str | None = None
    queue_partition_key: str | None = None
    replacement_children: dict[str, str] | None = None
    timeout_seconds: float | None = None


class ManagementService:
    def __init__(
        self,
        db: SystemDatabase,
        codec: PayloadCodec,
        *,
        app_name: str | None,
        now_ms: Callable[[], int],
        app_db: Callable[[], ApplicationDatabase | None] = lambda: None,
        on_stopped: Callable[[list[str]], None] = _nothing,
        on_enqueued: Callable[[], None] = _nothing,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``app_name``: the application this caller acts for (None: every application).

        ``on_stopped`` receives workflows cancelled or deleted; ``on_enqueued`` is called
        after workflows were put on a queue; ``sleep`` paces garbage collection.
        """
        self._db = db
        self._codec = codec
        self.app_name = app_name
        self._now_ms = now_ms
        self._app_db = app_db
        self._on_stopped = on_stopped
        self._on_enqueued = on_enqueued
        self._sleep = sleep

    # ------------------------------------------------------------------ reading

    def list_workflows(self, filters: Mapping[str, Any]) -> list[WorkflowStatus]:
        """list_workflows' keyword arguments (by their public names) to statuses."""
        with checked_arguments():
            f = build_workflow_filter(self.app_name, filters)
        if f.attributes_json is not None and not self._db.dialect.json_containment:
            raise DBOSException(
                "Filtering workflows by attributes needs Postgres; "
                f"the {self._db.dialect.name} system database does not support it"
            )
        rows = self._db.listing.workflows(f)
        return [
            status_from_row(r, self._codec, load_input=f.load_input, load_output=f.load_output)
            for r in rows
        ]

    def list_steps(
        self,
        workflow_id: str,
        *,
        load_output: bool = True,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[StepInfo]:
        """A workflow's recorded operations by function ID; empty for an unknown workflow."""
        with checked_arguments():
            rows = self._db.listing.steps(
                workflow_id,
                flag(load_output, "load_output"),
                count(limit, "limit"),
                count(offset, "offset"),
            )
        return [step_info_from_row(r, self._codec, workflow_id) for r in rows]

    # ------------------------------------------------------------------ changing

    def _with_descendants(self, workflow_ids: list[str], include: bool) -> list[str]:
        if not include:
            return workflow_ids
        return list(dict.fromkeys(workflow_ids + self._db.listing.descendants(workflow_ids)))

    def cancel(self, workflow_ids: list[str], *, cancel_children: bool = False) -> list[str]:
        """Cancel the unfinished workflows among these (missing IDs are ignored).

        Returns the IDs whose rows changed. Runs stop at their next durable operation.
        """
        with checked_arguments():
            ids = rules.workflow_ids(workflow_ids)
            children = flag(cancel_children, "cancel_children")
        ids = self._with_descendants(ids, children)
        changed = self._db.management.cancel(ids, self._now_ms())
        self._on_stopped(changed)
        return changed

    def resume(self, workflow_ids: list[str], *, queue_name: str | None = None) -> list[str]:
        """Put the unfinished ones back on a queue to continue from their last checkpoint.

        Every ID must exist (checked first, nothing changes otherwise); finished ones are
        left as they are. Returns the IDs, in order.
        """
        with checked_arguments():
            ids = rules.workflow_ids(workflow_ids)
            queue = rules.optional_name(queue_name, "queue_name") or INTERNAL_QUEUE
        missing = set(ids) - self._db.listing.existing(ids)
        if missing:
            raise _missing_error([i for i in ids if i in missing])
        if self._db.management.resume(ids, queue, self._now_ms()):
            self._on_enqueued()
        return ids

    def delete(self, workflow_ids: list[str], *, delete_children: bool = False) -> list[str]:
        """Delete workflows with everything recorded for them; returns the IDs deleted.

        The system database goes first: should the application database then fail, its
        leftover outcomes belong to no workflow and garbage collection removes them.
        """
        with checked_arguments():
            ids = rules.workflow_ids(workflow_ids)
            children = flag(delete_children, "delete_children")
        ids = self._with_descendants(ids, children)
        deleted = self._db.management.delete(ids)
        self._on_stopped(deleted)
        app_db = self._app_db()
        if app_db is not None:
            app_db.delete_outputs(ids)
        return deleted

    def update_attributes(
        self, workflow_id: str, attributes: Mapping[str, Any] | None, *, merge: bool = False
    ) -> None:
        """Replace a workflow's attributes (None clears them), or merge top-level keys."""
        with checked_arguments():
            text = attributes_json(attributes)
            if not isinstance(merge, bool):
                raise InvalidArgument(f"merge must be True or False, got {merge!r}")
        update = None if text is None else dict(attributes or {})

        def compute(current: dict[str, Any] | None) -> dict[str, Any] | None:
            return rules.merged_attributes(current, update, merge)

        if not self._db.management.update_attributes(workflow_id, compute, self._now_ms()):
            raise _missing_error([workflow_id])

    def set_delay(
        self,
        workflow_id: str,
        *,
        delay_seconds: float | None = None,
        delay_until_epoch_ms: int | None = None,
    ) -> bool:
        """Change when a DELAYED workflow joins its queue; False if it is not DELAYED.

        Only a DELAYED row changes: one already on its queue (or finished) keeps its course.
        """
        with checked_arguments():
            until = rules.delay_until_ms(delay_seconds, delay_until_epoch_ms, self._now_ms())
        changed = self._db.queues.set_delay(workflow_id, until, self._now_ms())
        if changed:
            self._on_enqueued()  # the queue runner re-reads when DELAYED rows become due
        return changed

    # ------------------------------------------------------------------ fork and rewind

    def _check_start(self, workflow_id: str, start_step: object) -> int:
        with checked_arguments():
            step = rules.start_step(start_step)
        last = self._db.listing.last_function_id(workflow_id)
        if last is None:
            raise _missing_error([workflow_id])
        with checked_arguments():
            rules.check_start_step(workflow_id, step, last)
        return step

    def fork(
        self,
        source_id: str,
        start_step: int,
        options: ForkOptions | None = None,
        *,
        fork_id: str | None = None,
    ) -> str:
        """A new workflow that replays ``source_id``'s steps before ``start_step``; its ID.

        Forking again under the same ``fork_id`` from the same source returns that fork.
        """
        o = options or ForkOptions()
        with checked_arguments():
            request = ForkRequest(
                source_id=source_id,
                fork_id=rules.optional_name(fork_id, "fork workflow ID") or random_id(),
                start_step=rules.start_step(start_step),
                queue_name=rules.optional_name(o.queue_name, "queue_name") or INTERNAL_QUEUE,
                queue_partition_key=rules.optional_name(
                    o.queue_partition_key, "queue_partition_key"
                ),
                application_version=rules.optional_name(
                    o.application_version, "application_version"
                ),
                application_name=self.app_name,
                workflow_timeout_ms=rules.timeout_ms(o.timeout_seconds),
                replacement_children=rules.replacement_children(o.replacement_children),
                owner_xid=random_token(),
                now_ms=self._now_ms(),
            )
        self._check_start(source_id, request.start_step)
        outcome = self._db.forks.fork(request)
        if outcome.source_missing:
            raise _missing_error([source_id])
        if not outcome.created and outcome.existing_forked_from != source_id:
            raise DBOSConflictingWorkflowError(
                request.fork_id,
                f"Cannot fork {source_id} as {request.fork_id}: that ID is already taken",
            )
        self._on_enqueued()
        return request.fork_id

    def rewind(
        self,
        workflow_id: str,
        *,
        start_step: int | None = None,
        application_version: str | None = None,
        queue_name: str | None = None,
        queue_partition_key: str | None = None,
    ) -> None:
        """Rewind a finished workflow in place to ``start_step`` (default 1) and queue it.

        The steps from ``start_step`` on are forgotten and run again under the same ID. The
        application database's outcomes from that step on go first, so that a failure in
        between leaves the workflow as it was and the rewind can simply be retried.
        """
        step = self._check_start(workflow_id, 1 if start_step is None else start_step)
        with checked_arguments():
            request = RewindRequest(
                workflow_id=workflow_id,
                start_step=step,
                queue_name=rules.optional_name(queue_name, "queue_name") or INTERNAL_QUEUE,
                queue_partition_key=rules.optional_name(queue_partition_key, "queue_partition_key"),
                application_version=rules.optional_name(application_version, "application_version"),
                now_ms=self._now_ms(),
            )
        self._refuse_active(workflow_id, self._db.workflows.get_status(workflow_id))
        app_db = self._app_db()
        if app_db is not None:
            app_db.delete_outputs_from(workflow_id, step)
        self._refuse_active(workflow_id, self._db.forks.rewind(request))
        self._on_enqueued()

    @staticmethod
    def _refuse_active(workflow_id: str, status: str | None) -> None:
        if status is None:
            raise _missing_error([workflow_id])
        if status in ACTIVE:
            raise DBOSException(
                f"Cannot rewind workflow {workflow_id}: it is {status}; only a finished "
                "(or cancelled) workflow can be rewound, so cancel it first"
            )

    # ------------------------------------------------------------------ retention

    def garbage_collect(
        self,
        *,
        cutoff_epoch_timestamp_ms: int | None = None,
        rows_threshold: int | None = None,
        batch_size: int | None = None,
    ) -> int:
        """Delete finished workflows older than the cutoff, or beyond the newest N.

        Runs in batches of ``batch_size`` (default 10,000; 1,000 on SQLite, whose writers
        wait for each batch), one transaction each, oldest first. Active workflows are never
        deleted, and running ones are never waited for. Returns how many were deleted.
        """
        with checked_arguments():
            cutoff = rules.epoch_ms_arg(cutoff_epoch_timestamp_ms, "cutoff_epoch_timestamp_ms")
            threshold = None
            if rows_threshold is not None:
                threshold = rules.positive_int(rows_threshold, "rows_threshold")
            batch = rules.gc_batch_size(batch_size, self._db.dialect.serialized_writes)
        newest_kept = None
        if threshold is not None:
            newest_kept = self._db.management.nth_newest_created_at(threshold, self.app_name)
        effective = rules.gc_cutoff(cutoff, newest_kept)
        if effective is None:
            return 0
        deleted = self._delete_finished_before(effective, batch)
        app_db = self._app_db()
        if app_db is not None:
            app_db.garbage_collect(effective, self._db.management.active_ids())
        return deleted

    def _delete_finished_before(self, cutoff_ms: int, batch: int) -> int:
        deleted, watermark = 0, 0
        store = self._db.management
        serialized = self._db.dialect.serialized_writes
        while True:
            candidates = store.gc_candidates(watermark, cutoff_ms, self.app_name, batch)
            if not candidates:
                return deleted
            started = self._now_ms()
            removed = len(store.delete_finished([c[0] for c in candidates]))
            pause_ms = rules.gc_pause_ms(self._now_ms() - started, serialized)
            if pause_ms > 0:
                self._sleep(pause_ms / 1000)
            deleted += removed
            if len(candidates) < batch or (removed == 0 and candidates[-1][1] == watermark):
                return deleted
            # ">=": the next batch also sees rows that share the last one's millisecond.
            watermark = candidates[-1][1]

    def global_timeout(self, cutoff_epoch_timestamp_ms: int, *, batch_size: int = 1000) -> int:
        """Cancel every active workflow created at or before the cutoff; returns how many."""
        with checked_arguments():
            cutoff = rules.epoch_ms_arg(cutoff_epoch_timestamp_ms, "cutoff_epoch_timestamp_ms")
            batch = rules.positive_int(batch_size, "batch_size")
            if cutoff is None:
                raise InvalidArgument("global_timeout needs cutoff_epoch_timestamp_ms")
        cancelled = 0
        while True:
            ids = self._db.management.active_created_by(cutoff, self.app_name, batch)
            if not ids:
                return cancelled
            changed = self._db.management.cancel(ids, self._now_ms())
            self._on_stopped(changed)
            cancelled += len(changed)
            if len(ids) < batch:
                return cancelled

    # ------------------------------------------------------------------ versions

    def list_versions(self) -> list[VersionInfo]:
        """Newest first (by version_timestamp); the first is the latest."""
        return [version_info(r) for r in self._db.versions.list(self.app_name)]

    def latest_version(self) -> VersionInfo:
        versions = self._db.versions.list(self.app_name)
        if not versions:
            raise DBOSException("No application versions are registered")
        return version_info(versions[0])

    def set_latest_version(self, version_name: str, *, application_name: str | None = None) -> None:
        """Make a registered version the latest; its created_at is unchanged."""
        with checked_arguments():
            name = rules.optional_name(version_name, "version_name")
            app = rules.optional_name(application_name, "application_name") or self.app_name
        assert name is not None
        if not self._db.versions.set_latest(name, app, self._now_ms()):
            raise DBOSException(f"Unknown application version {name!r}")

    # ------------------------------------------------------------------ ownership

    def rename_application(
        self,
        old_name: str | None,
        new_name: str,
        *,
        batch_size: int = 10_000,
        adopt_unclaimed_rows: bool = False,
    ) -> dict[str, int]:
        """Re-own ``old_name``'s rows (and unclaimed ones) as ``new_name``; counts per kind.

        Registered things and in-flight workflows move in one transaction; history moves
        in batches afterwards, so an interrupted rename is finished by running it again.
        The renamed application must be stopped: its running processes would go on
        stamping the old name.
        """
        with checked_arguments():
            request = application_rename.rename_request(
                old_name, new_name, adopt_unclaimed_rows, batch_size
            )
        owner = Owner(request.old_name, request.adopt_unclaimed_rows)

        def check(moving: Mapping[str, Sequence[str]], owned: Mapping[str, Sequence[str]]) -> None:
            problems = application_rename.clashes(request, moving, owned)
            if problems:
                raise DBOSException(
                    f"Cannot move {request.describe_source()} to {request.new_name!r}: "
                    + "; ".join(problems)
                )

        counts = self._db.renames.move_registered(owner, request.new_name, check)
        counts["steps"] = 0
        after: str | None = ""
        while after is not None:
            batch = self._db.renames.move_finished_batch(
                owner, request.new_name, after, request.batch_size
            )
            counts["workflows"] += batch.workflows
            counts["steps"] += batch.steps
            after = batch.next_after
        if application_rename.nothing_moved(counts):
            raise DBOSException(f"Nothing to move: {request.describe_source()} owns no rows")
        return {key: counts[key] for key in application_rename.COUNT_KEYS}
