"""The ``dbos`` command as a real subprocess, for the CLI tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).parents[2]
CliRunner = Callable[..., subprocess.CompletedProcess[str]]


def cli_runner(tmp_path: Path) -> CliRunner:
    """Run ``dbos ARGS`` in ``tmp_path`` (where a dbos-config.yaml may be written)."""

    def run(
        *args: str, stdin: str = "", env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "dbos.cli.cli", *args],
            cwd=tmp_path,
            input=stdin,
            capture_output=True,
            text=True,
            env=full_env,
            timeout=120,
            check=False,
        )

    return run
