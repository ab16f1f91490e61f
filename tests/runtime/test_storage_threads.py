"""StorageThreads: which storage calls run on the loop and which go to the threads."""

from __future__ import annotations

import asyncio
import threading
import time

from dbos._runtime.storage_threads import StorageThreads


def _where() -> str:
    return threading.current_thread().name


def _slow_where() -> str:
    time.sleep(0.003)  # typically longer than the inline limit below
    return threading.current_thread().name


def test_a_fast_call_runs_on_the_loop_once_it_is_known_to_be_fast() -> None:
    threads = StorageThreads(size=2, inline_below_seconds=0.001)

    async def main() -> list[str]:
        return [await threads.call(_where) for _ in range(3)]

    try:
        first, second, third = asyncio.run(main())
    finally:
        threads.stop()
    assert first.startswith("dbos-storage")  # never seen: timed on a thread first
    assert second == third == threading.current_thread().name


def test_a_slow_call_always_goes_to_the_threads() -> None:
    threads = StorageThreads(size=2, inline_below_seconds=0.001)

    async def main() -> list[str]:
        return [await threads.call(_slow_where) for _ in range(3)]

    try:
        names = asyncio.run(main())
    finally:
        threads.stop()
    assert all(name.startswith("dbos-storage") for name in names)


def test_calls_made_while_another_is_in_flight_go_to_the_threads() -> None:
    threads = StorageThreads(size=2, inline_below_seconds=0.001)
    release = threading.Event()

    def blocked() -> str:
        release.wait(10)
        return _where()

    async def main() -> tuple[str, str]:
        await threads.call(_where)  # now known to be fast
        pending = threads.call(blocked)
        while_busy = await threads.call(_where)  # one call is in flight: no inline
        release.set()
        return while_busy, await pending

    try:
        while_busy, _ = asyncio.run(main())
    finally:
        threads.stop()
    assert while_busy.startswith("dbos-storage")


def test_an_inline_call_that_raises_hands_the_error_to_the_caller() -> None:
    threads = StorageThreads(size=1, inline_below_seconds=1.0)
    calls = [0]

    def flaky() -> None:
        calls[0] += 1
        if calls[0] > 1:
            raise ValueError("inline failure")

    async def main() -> None:
        await threads.call(flaky)
        await threads.call(flaky)

    try:
        asyncio.run(main())
        raise AssertionError("the error was lost")
    except ValueError as exc:
        assert str(exc) == "inline failure"
    finally:
        threads.stop()


def test_closures_of_one_function_share_what_is_learned() -> None:
    threads = StorageThreads(size=1, inline_below_seconds=1.0)

    def check(n: int) -> object:
        return lambda: (n, threading.current_thread().name)

    async def main() -> list[object]:
        return [await threads.call(check(n)) for n in range(3)]

    try:
        results = asyncio.run(main())
    finally:
        threads.stop()
    # A new closure per call, one code object: the second call already runs inline.
    assert results[1] == (1, threading.current_thread().name)
    assert len(threads._typical) == 1
