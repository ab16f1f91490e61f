"""StreamCursor: a run hands the insert an offset only when nothing else could have moved it."""

from __future__ import annotations

from dbos._runtime.stream_cursors import StreamCursor

LEARN = StreamCursor.LEARN


def test_the_first_write_lets_the_database_pick_and_the_second_learns_the_offset() -> None:
    cursor = StreamCursor()
    assert cursor.begin() is None  # a stream written once costs no read
    cursor.end(None)
    assert cursor.begin() == LEARN
    cursor.end(4)  # it read 3 as the last offset and wrote at 4
    assert cursor.begin() == 5
    cursor.end(5)
    assert cursor.begin() == 6


def test_overlapping_writes_forget_the_offset_until_the_next_lone_write_learns_it() -> None:
    cursor = StreamCursor()
    cursor.begin()
    cursor.end(None)
    assert cursor.begin() == LEARN
    assert cursor.begin() is None  # a second write while the first is in flight
    cursor.end(7)  # the first, alone no longer: 8 may be taken already
    assert cursor.begin() is None  # still overlapping the second
    cursor.end(None)
    cursor.end(None)
    assert cursor.begin() == LEARN  # alone again: read the offset anew
    cursor.end(10)
    assert cursor.begin() == 11


def test_a_failed_write_forgets_the_offset() -> None:
    cursor = StreamCursor()
    cursor.begin()
    cursor.end(None)
    cursor.begin()
    cursor.end(2)
    assert cursor.begin() == 3
    cursor.fail()
    assert cursor.begin() == LEARN
