"""The effects a durable flow asks its driver to perform, and the two drivers.

Every decision (replay, retry, record, wait) is written once as a generator that yields
these effects; a driver performs them. ``run_sync`` runs them in the calling thread;
``run_async`` runs the same generators on an event loop, with storage calls on a worker
thread and waits that hold no thread at all. The sync and async paths therefore cannot
disagree about what a workflow does: they differ only in these two short functions.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

if TYPE_CHECKING:
    from dbos._runtime.waiters import Signal

R = TypeVar("R")


class Offload(NamedTuple):
    """A short storage call: run inline when sync, on the thread helper when async."""

    func: Callable[..., Any]
    args: tuple[Any, ...]


class CallUser(NamedTuple):
    """Call user code: a plain call when sync; awaited when it returns an awaitable.

    ``io`` marks a blocking function (a checkpointed storage read run as a step), which the
    async driver runs on a worker thread instead of on the loop.
    """

    func: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    io: bool = False


class Sleep(NamedTuple):
    seconds: float


class Wait(NamedTuple):
    """Wait until ``event`` is set or ``timeout`` seconds pass; the flow re-checks after."""

    event: Signal
    timeout: float


Effect = Offload | CallUser | Sleep | Wait
Flow = Generator[Effect, Any, R]


def _perform(effect: Effect) -> Any:
    kind = type(effect)
    if kind is Offload:
        return effect.func(*effect.args)  # type: ignore[union-attr]
    if kind is CallUser:
        return effect.func(*effect.args, **effect.kwargs)  # type: ignore[union-attr]
    if kind is Sleep:
        time.sleep(max(0.0, effect.seconds))  # type: ignore[union-attr]
        return None
    return effect.event.wait(effect.timeout)  # type: ignore[union-attr]


def run_sync(flow: Flow[R]) -> R:
    """Drive ``flow`` to completion in this thread."""
    send: Any = None
    error: BaseException | None = None
    while True:
        try:
            if error is not None:
                exc, error = error, None
                effect = flow.throw(exc)
            else:
                effect = flow.send(send)
        except StopIteration as stop:
            result: R = stop.value
            return result
        try:
            send = _perform(effect)
        except BaseException as exc:  # the flow decides what a failure means, even Ctrl-C
            error = exc
            send = None


Offloader = Callable[..., "asyncio.Future[Any]"]


def _to_thread(func: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
    return asyncio.ensure_future(asyncio.to_thread(func, *args))


# How async flows reach storage: the launched runtime's StorageThreads, else to_thread.
_offload: Offloader = _to_thread


def set_offloader(offload: Offloader | None) -> None:
    """Route async storage calls through ``offload`` (None: back to asyncio.to_thread)."""
    global _offload
    _offload = offload or _to_thread


async def _perform_async(effect: Effect) -> Any:
    kind = type(effect)
    if kind is Offload:
        return await _offload(effect.func, *effect.args)  # type: ignore[union-attr]
    if kind is CallUser:
        if effect.io:  # type: ignore[union-attr]
            return await asyncio.to_thread(effect.func, *effect.args, **effect.kwargs)  # type: ignore[union-attr]
        result = effect.func(*effect.args, **effect.kwargs)  # type: ignore[union-attr]
        return (await result) if inspect.isawaitable(result) else result
    if kind is Sleep:
        await asyncio.sleep(max(0.0, effect.seconds))  # type: ignore[union-attr]
        return None
    return await effect.event.wait_async(effect.timeout)  # type: ignore[union-attr]


async def run_async(flow: Flow[R]) -> R:
    """Drive ``flow`` to completion on the running event loop."""
    send: Any = None
    error: BaseException | None = None
    while True:
        try:
            if error is not None:
                exc, error = error, None
                effect = flow.throw(exc)
            else:
                effect = flow.send(send)
        except StopIteration as stop:
            result: R = stop.value
            return result
        try:
            send = await _perform_async(effect)
        except BaseException as exc:  # cancellation included: the flow decides
            error = exc
            send = None
