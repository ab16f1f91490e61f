"""Waiting for sockets to become readable or writable, without select's descriptor cap.

select() refuses descriptors numbered 1024 and up, which a busy server process passes
(connections, files, pipes). poll has no such cap; where it is missing (Windows), select
has no such cap either. The wait releases the GIL, so other threads run meanwhile.
"""

from __future__ import annotations

import select
from collections.abc import Collection

_HAS_POLL = hasattr(select, "poll")
# An error or a hang-up counts as readable: the read that follows raises it.
_READY = (select.POLLIN | select.POLLERR | select.POLLHUP | select.POLLNVAL) if _HAS_POLL else 0


def wait(
    read: Collection[int], write: Collection[int] = (), timeout_sec: float | None = None
) -> tuple[set[int], set[int]]:
    """The descriptors of ``read`` that are readable and those of ``write`` that are writable."""
    if not _HAS_POLL:
        readable, writable, _ = select.select(list(read), list(write), [], timeout_sec)
        return set(readable), set(writable)
    poller = select.poll()
    for fd in {*read, *write}:
        poller.register(
            fd, (select.POLLIN if fd in read else 0) | (select.POLLOUT if fd in write else 0)
        )
    events = poller.poll(None if timeout_sec is None else timeout_sec * 1000)
    return (
        {fd for fd, event in events if event & _READY},
        {fd for fd, event in events if event & select.POLLOUT},
    )
