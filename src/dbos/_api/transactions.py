"""@DBOS.transaction and DBOS.sql_session."""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from dbos._api.decorators import INFO_ATTRIBUTE, _source_of
from dbos._api.state import classproperty, require_runtime
from dbos._error import DBOSException
from dbos._runtime import context
from dbos._runtime.effects import run_sync
from dbos._runtime.registry import TEMP_PREFIX, WorkflowInfo, global_registry
from dbos._runtime.transactions import (
    ISOLATION_LEVELS,
    TransactionSpec,
    application_database,
    current_session,
    plain_transaction_flow,
    transaction_flow,
)
from dbos._runtime.workflows import call_flow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

F = TypeVar("F", bound=Callable[..., Any])
IsolationLevel = Literal["SERIALIZABLE", "REPEATABLE READ", "READ COMMITTED"]
logger = logging.getLogger("dbos")


def _warn_if_on_event_loop(name: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    logger.warning(
        "Transaction %s was called while an event loop is running, which blocks the loop "
        "until it commits; call it through asyncio.to_thread instead",
        name,
    )


def _call(
    spec: TransactionSpec,
    info: WorkflowInfo,
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """Where a transaction runs depends on where it is called from.

    In a workflow: a durable operation of it. In a step: a plain database transaction that is
    part of the step. In another transaction: part of that transaction's session. Anywhere
    else: inside a temporary workflow of its own, named ``<temp>.<name>``.
    """
    if current_session() is not None:
        return func(*args, **kwargs)
    _warn_if_on_event_loop(spec.name)
    rt = require_runtime(spec.name)
    application_database(rt)  # refuse before a temporary workflow's row is written
    execution = context.current_execution()
    if execution is not None:
        return run_sync(transaction_flow(rt, execution, spec, func, args, kwargs))
    if context.current_step() is not None:
        return run_sync(plain_transaction_flow(rt, spec, func, args, kwargs))
    return run_sync(call_flow(rt, info, args, kwargs))


def _sql_session(cls: Any) -> Session:
    session = current_session()
    if session is None:
        raise AssertionError("DBOS.sql_session is only available inside a @DBOS.transaction")
    return session


class TransactionsAPI:
    @classmethod
    def transaction(
        cls, isolation_level: IsolationLevel = "SERIALIZABLE", *, name: str | None = None
    ) -> Callable[[F], F]:
        """Make a function a transaction on the application database, run exactly once.

        The function runs in one database transaction and reaches it through
        ``DBOS.sql_session``. Its output is recorded in that same transaction, so a workflow
        that replays never runs it twice. Serialization failures and lost connections are
        retried; other errors are recorded and raised. Requires
        ``application_database_url`` in the configuration.

        Args:
            isolation_level: The Postgres isolation level. SQLite runs every transaction
                as SERIALIZABLE.
            name: The name to record; defaults to the function's qualified name.
        """
        if isolation_level not in ISOLATION_LEVELS:
            raise DBOSException(
                f"Unsupported isolation level {isolation_level!r}; "
                f"use one of {', '.join(ISOLATION_LEVELS)}"
            )

        def decorator(func: F) -> F:
            spec = TransactionSpec(name or func.__qualname__, isolation_level)
            if inspect.iscoroutinefunction(func):
                raise DBOSException(
                    f"{spec.name}: a transaction cannot be a coroutine function; "
                    "make it a plain function (call it with asyncio.to_thread from async code)"
                )

            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                return _call(spec, info, func, args, kwargs)

            # Called outside a workflow, started or enqueued, it runs in a <temp> workflow.
            info = WorkflowInfo(
                name=TEMP_PREFIX + spec.name, func=wrapper, kind="transaction",
                source=_source_of(func),
            )  # fmt: skip
            setattr(wrapper, INFO_ATTRIBUTE, info)
            global_registry().register(info)
            return wrapper  # type: ignore[return-value]

        return decorator

    sql_session = classproperty(_sql_session)
