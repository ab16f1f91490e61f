"""Where a workflow's run appends next to each stream it writes, so a write need not ask.

A stream's next offset is one past its last value. The insert can find that itself, at the
price of an index descent, which costs Postgres about 15 us of CPU on every write (a tenth of
a durable commit). A run that wrote a stream's last value itself knows the next offset, and
hands it to the insert outright.

The run knows it only while nothing else could have moved it. A cursor forgets the offset
whenever a write fails or two of the run's writes to one stream overlap (gathered async
writes, a step streaming beside its workflow); the next write then lets the database pick,
as every write did before, and the cursor learns the offset again with one read on the
write after. So the run never skips an offset, which would leave readers a gap they stop at.
Another run of the same workflow writing at the same moment takes offsets through the
primary key as before: a collision fails the insert and the loser retries.
"""

from __future__ import annotations

import threading


class StreamCursor:
    """One stream's next offset, as far as the run writing it knows."""

    # What begin() returns when the write should read the stream's last offset first.
    LEARN = -1

    __slots__ = ("_in_flight", "_lock", "_next", "_overlapped", "_writes")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: int | None = None
        self._in_flight = 0
        self._overlapped = False
        self._writes = 0

    def begin(self) -> int | None:
        """Start a write: its offset, LEARN (read it first), or None (the database picks).

        A stream written only once costs no read: the offset is learned from the second
        write on, when the stream is likely to go on.
        """
        with self._lock:
            self._in_flight += 1
            if self._in_flight > 1:
                self._overlapped = True
                return None
            if self._next is not None:
                return self._next
            return self.LEARN if self._writes else None

    def end(self, offset: int | None) -> None:
        """A write committed at ``offset`` (None: at the offset the database picked)."""
        with self._lock:
            self._writes += 1
            self._finish(None if offset is None or self._overlapped else offset + 1)

    def fail(self) -> None:
        """A write did not commit, or may have committed at an offset we cannot know."""
        with self._lock:
            self._finish(None)

    def _finish(self, next_offset: int | None) -> None:
        self._next = next_offset
        self._in_flight -= 1
        if self._in_flight == 0:
            self._overlapped = False
