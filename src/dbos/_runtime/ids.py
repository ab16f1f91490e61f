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


def _random_hex() -> str:
    """32 hex digits of a version-4 UUID: 122 random bits, the version and variant set."""
    global _buffer, _offset
    with _lock:
        if _offset + 16 > len(_buffer):
            _buffer, _offset = os.urandom(_CHUNK), 0
        raw = bytearray(_buffer[_offset : _offset + 16])
        _offset += 16
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    return raw.hex()


def random_uuid() -> uuid.UUID:
    return uuid.UUID(hex=_random_hex())


def random_id() -> str:
    """A new UUID in its usual text form, as workflow and message IDs use.

    Formatted here rather than through ``uuid.UUID``, which costs a few microseconds more
    per ID on the enqueue path (two IDs per enqueue).
    """
    h = _random_hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def random_token() -> str:
    """A new UUID as 32 hex digits, as owner tokens use."""
    return _random_hex()
