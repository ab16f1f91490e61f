"""dbos init: a runnable project from the bundled template, or just its configuration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cli_runner import ROOT, CliRunner


def test_init_writes_a_project_whose_program_runs(dbos_cli: CliRunner, tmp_path: Path) -> None:
    result = dbos_cli("init", "my-app", "-t", "dbos-db-starter")
    assert result.returncode == 0, result.stderr
    project = tmp_path / "my-app"
    assert "name: my-app" in (project / "dbos-config.yaml").read_text()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    ran = subprocess.run(
        [sys.executable, "main.py"], cwd=project, capture_output=True, text=True,
        env=env, timeout=120, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert "Hello, my-app!" in ran.stdout
    assert (project / "my_app.sqlite").exists()


def test_init_prompts_for_what_it_is_not_given(dbos_cli: CliRunner, tmp_path: Path) -> None:
    result = dbos_cli("init", stdin="prompted\n\n")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "prompted" / "main.py").exists()


def test_init_config_only_writes_just_the_configuration(
    dbos_cli: CliRunner, tmp_path: Path
) -> None:
    result = dbos_cli("init", "cfg-only", "--config")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "dbos-config.yaml").exists()
    assert not (tmp_path / "main.py").exists()
    again = dbos_cli("init", "cfg-only", "--config")
    assert again.returncode == 1 and "already exists" in again.stderr


def test_init_refuses_bad_names_and_templates(dbos_cli: CliRunner, tmp_path: Path) -> None:
    for args, message in (
        (("init", "No Spaces Allowed", "-t", "dbos-db-starter"), "Invalid app name"),
        (("init", "good-name", "-t", "no-such-template"), "Unknown template"),
        (("init", "good-name", "-t", "dbos-toolbox"), "fetches nothing"),
    ):
        result = dbos_cli(*args)
        assert result.returncode == 1, args
        assert message in result.stderr
    assert list(tmp_path.iterdir()) == []
