"""Random IDs from the buffered source: valid version-4 UUIDs, unique, and fork-safe."""

from __future__ import annotations

import os
import uuid

import pytest

from dbos._runtime.ids import random_id, random_token, random_uuid


def test_ids_are_distinct_version_4_uuids_across_many_refills() -> None:
    ids = [random_uuid() for _ in range(2000)]  # several 4 KiB refills
    assert len(set(ids)) == len(ids)
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in ids)
    texts = [random_id() for _ in range(2000)]
    assert all(str(uuid.UUID(t)) == t and uuid.UUID(t).version == 4 for t in texts)
    assert all(uuid.UUID(t).variant == uuid.RFC_4122 for t in texts)
    token = random_token()
    assert len(token) == 32 and uuid.UUID(hex=token).version == 4


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_reuse_its_parents_buffer() -> None:
    random_id()  # the parent has a partly used buffer now
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next ID and leave at once
        os.close(read_end)
        os.write(write_end, random_id().encode())
        os._exit(0)
    os.close(write_end)
    child_id = os.read(read_end, 64).decode()
    os.close(read_end)
    os.waitpid(pid, 0)
    assert child_id != random_id()
