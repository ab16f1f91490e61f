"""Application version: a digest of the registered workflow sources.

Recovery only replays workflows on code that recorded them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

PATCHING_VERSION = "PATCHING_ENABLED"


def compute_application_version(sources: Iterable[str], package_version: str, app_name: str) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    for source in sorted(sources):
        digest.update(source.encode())
    digest.update(package_version.encode())
    digest.update(app_name.encode())
    return digest.hexdigest()


def fallback_application_version(app_name: str) -> str:
    return f"DEFAULT_VERSION-{app_name}"
