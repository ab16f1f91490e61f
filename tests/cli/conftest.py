"""Fixtures for the CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_runner import CliRunner, cli_runner


@pytest.fixture
def dbos_cli(tmp_path: Path) -> CliRunner:
    return cli_runner(tmp_path)
