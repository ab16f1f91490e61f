"""NoticeThrottle: one immediate notice per queue per window, and one owed for the rest."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dbos._core.notice_throttle import NoticeThrottle


def test_the_first_enqueue_of_a_window_is_loud_and_the_rest_owe_one_notice() -> None:
    throttle = NoticeThrottle(window_sec=1.0)
    assert throttle.announce_now("q", 10.0) is True
    assert throttle.announce_now("q", 10.2) is False
    assert throttle.announce_now("q", 10.4) is False
    assert throttle.announce_now("other", 10.4) is True  # each queue has its own window
    assert throttle.next_due() == 11.0
    assert throttle.take_due(10.9) == []
    assert throttle.take_due(11.0) == ["q"]
    assert throttle.next_due() is None
    # The owed notice counts as an announcement: the window starts again from it.
    assert throttle.announce_now("q", 11.5) is False
    assert throttle.take_all() == ["q"]
    assert throttle.announce_now("q", 12.1) is True


@given(st.lists(st.floats(0, 10, allow_nan=False), min_size=1, max_size=60))
def test_every_enqueue_is_announced_within_one_window(times: list[float]) -> None:
    window = 0.5
    throttle = NoticeThrottle(window_sec=window)
    notices: list[float] = []
    for now in sorted(times):
        due = throttle.next_due()
        while due is not None and due <= now:  # the announcer sends what is due first
            throttle.take_due(due)
            notices.append(due)
            due = throttle.next_due()
        if throttle.announce_now("q", now):
            notices.append(now)
    while (due := throttle.next_due()) is not None:
        throttle.take_due(due)
        notices.append(due)
    for now in times:
        assert any(now <= notice <= now + window for notice in notices)
