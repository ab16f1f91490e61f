"""Waiters: the first waiter of each kind asks the notifier to listen, before it checks."""

from __future__ import annotations

from dbos._runtime.waiters import (
    EVENT_PREFIX,
    MESSAGE_PREFIX,
    STREAM_PREFIX,
    Signal,
    Waiters,
    event_key,
    message_key,
    stream_key,
)


def test_the_first_waiter_of_a_kind_calls_the_hook_once_and_before_returning() -> None:
    waiters = Waiters()
    asked: list[str] = []
    waiters.first_of_kind = asked.append
    signal = waiters.register(event_key("wf", "k"))
    assert asked == [EVENT_PREFIX]  # already done when register returned
    waiters.register(event_key("wf", "other"))
    waiters.unregister(event_key("wf", "k"), signal)
    waiters.register(event_key("wf", "k"))
    assert asked == [EVENT_PREFIX]  # once per kind
    assert waiters.register_exclusive(message_key("wf", "topic"), Signal())
    waiters.register(stream_key("wf", "s"))
    waiters.register("wf")  # a workflow's own key is no kind: it is never announced
    assert asked == [EVENT_PREFIX, MESSAGE_PREFIX, STREAM_PREFIX]


def test_kinds_are_asked_again_after_the_notifier_forgets_them() -> None:
    waiters = Waiters()
    asked: list[str] = []
    waiters.register(event_key("wf", "k"))  # no notifier yet: nothing to ask
    assert waiters.kinds_waiting() == {EVENT_PREFIX}
    waiters.first_of_kind = asked.append
    waiters.register(event_key("wf", "k2"))
    waiters.forget_kinds_heard()
    waiters.register(event_key("wf", "k3"))
    assert asked == [EVENT_PREFIX, EVENT_PREFIX]
