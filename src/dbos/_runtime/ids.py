"""Random (version 4) UUIDs drawn from a buffer of OS randomness.

``uuid.uuid4()`` reads 16 bytes from ``os.urandom`` per ID, and that call releases the GIL:
on a busy process the thread must then win the GIL back, which was measured at ~90 us per
enqueue (two IDs each) while workflow threads were running. Reading 4 KiB at a time keeps
the IDs just as unpredictable and releases the GIL once per 256 of them.
"""

from __future__ import annotations

import os
import threading
import uuid

_CHUNK = 4096
_lock = threading.Lock()
_buffer = b""
_offset = 0


def _forget_buffer() -> None:
    """A forked child must not hand out the bytes its parent will also use."""
    global _buffer, _offset, _lock
    _lock = threading.Lock()
    _buffer, _offset = b"", 0


os.register_at_fork(after_in_child=_forget_buffer)


def random_uuid() -> uuid.UUID:
    global _buffer, _offset
    with _lock:
        if _offset + 16 > len(_buffer):
            _buffer, _offset = os.urandom(_CHUNK), 0
        raw = _buffer[_offset : _offset + 16]
        _offset += 16
    return uuid.UUID(bytes=raw, version=4)


def random_id() -> str:
    """A new UUID in its usual text form, as workflow and message IDs use."""
    return str(random_uuid())


def random_token() -> str:
    """A new UUID as 32 hex digits, as owner tokens use."""
    return random_uuid().hex
