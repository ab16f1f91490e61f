"""Context managers that set options for the workflows started inside them."""

from __future__ import annotations

import math
from types import TracebackType
from typing import Any, Literal

from dbos._core.workflow_filters import InvalidArgument, attributes_json
from dbos._error import DBOSException
from dbos._runtime import context
from dbos._runtime.context import DBOSContext

WorkflowIDReusePolicy = Literal["return-existing", "reject"]


class _ContextOption:
    """Enter: make sure a context exists and set a field; exit: restore the old value."""

    _field: str

    def __init__(self) -> None:
        self._value: Any = None
        self._saved: Any = None
        self._token: Any = None

    def _apply(self, ctx: DBOSContext) -> None:
        self._saved = getattr(ctx, self._field)
        setattr(ctx, self._field, self._value)

    def _restore(self, ctx: DBOSContext) -> None:
        setattr(ctx, self._field, self._saved)

    def __enter__(self) -> Any:
        ctx = context.current()
        if ctx is None:
            ctx = DBOSContext()
            self._token = context.set_current(ctx)
        self._apply(ctx)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        ctx = context.current()
        if ctx is not None:
            self._restore(ctx)
        if self._token is not None:
            context.reset(self._token)
            self._token = None
        return False


class SetWorkflowID(_ContextOption):
    """Give the first workflow started, called or enqueued in the block this ID.

    Args:
        wfid: the workflow ID; not empty.
        workflow_id_reuse_policy: "return-existing" (default) returns the existing
            workflow's outcome when the ID is taken; "reject" raises
            DBOSWorkflowIDInUseError instead.
    """

    _field = "next_workflow_id"

    def __init__(
        self, wfid: str, *, workflow_id_reuse_policy: WorkflowIDReusePolicy | None = None
    ) -> None:
        super().__init__()
        if not isinstance(wfid, str) or not wfid.strip():
            raise DBOSException(f"Invalid workflow ID {wfid!r}: workflow IDs must not be empty")
        if workflow_id_reuse_policy not in (None, "return-existing", "reject"):
            raise DBOSException(f"Invalid workflow_id_reuse_policy {workflow_id_reuse_policy!r}")
        self._value = wfid
        self._policy = workflow_id_reuse_policy
        self._saved_policy: str | None = None
        self._saved_taken = False

    def _apply(self, ctx: DBOSContext) -> None:
        super()._apply(ctx)
        self._saved_policy, ctx.id_reuse_policy = ctx.id_reuse_policy, self._policy
        self._saved_taken, ctx.workflow_id_taken = ctx.workflow_id_taken, False

    def _restore(self, ctx: DBOSContext) -> None:
        super()._restore(ctx)
        ctx.id_reuse_policy = self._saved_policy
        ctx.workflow_id_taken = self._saved_taken


class SetWorkflowTimeout(_ContextOption):
    """Set a timeout, in seconds, for workflows started in the block (None clears it)."""

    _field = "workflow_timeout_sec"

    def __init__(self, workflow_timeout_sec: float | None) -> None:
        super().__init__()
        if workflow_timeout_sec is not None and not (
            isinstance(workflow_timeout_sec, (int, float))
            and math.isfinite(workflow_timeout_sec)
            and workflow_timeout_sec > 0
        ):
            raise Exception(
                f"Invalid workflow timeout {workflow_timeout_sec}. Timeouts must be positive."
            )
        self._value = workflow_timeout_sec
        self._saved_set = False

    def _apply(self, ctx: DBOSContext) -> None:
        super()._apply(ctx)
        self._saved_set, ctx.timeout_set = ctx.timeout_set, True

    def _restore(self, ctx: DBOSContext) -> None:
        super()._restore(ctx)
        ctx.timeout_set = self._saved_set


class SetWorkflowAttributes(_ContextOption):
    """Attach a JSON-serialisable dict of attributes to workflows started in the block."""

    _field = "attributes"

    def __init__(self, attributes: dict[str, Any] | None) -> None:
        super().__init__()
        try:
            attributes_json(attributes)  # the rule update_workflow_attributes applies too
        except InvalidArgument as exc:
            raise DBOSException(str(exc)) from exc
        self._value = attributes


class DBOSContextEnsure(_ContextOption):
    """Make sure a DBOS context exists for the block."""

    _field = "next_workflow_id"

    def _apply(self, ctx: DBOSContext) -> None:
        return None

    def _restore(self, ctx: DBOSContext) -> None:
        return None


class DBOSContextSetAuth(_ContextOption):
    """Set the authenticated user and roles for the block."""

    _field = "authenticated_user"

    def __init__(self, user: str | None, roles: list[str] | None) -> None:
        super().__init__()
        self._value = user
        self._roles = roles
        self._saved_roles: list[str] | None = None

    def _apply(self, ctx: DBOSContext) -> None:
        super()._apply(ctx)
        self._saved_roles, ctx.authenticated_roles = ctx.authenticated_roles, self._roles

    def _restore(self, ctx: DBOSContext) -> None:
        super()._restore(ctx)
        ctx.authenticated_roles = self._saved_roles
