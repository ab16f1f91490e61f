"""``dbos init``: a new project from the bundled template, or just its dbos-config.yaml."""

from __future__ import annotations

from pathlib import Path

import click

from dbos._core.settings import InvalidSettings, validate_app_name

BUNDLED = "dbos-db-starter"
# Templates DBOS publishes on GitHub; this package bundles only the first, and fetches nothing.
KNOWN_TEMPLATES = (BUNDLED, "dbos-toolbox", "dbos-app-starter", "dbos-cron-starter")

CONFIG = """\
# DBOS project configuration, read by the dbos CLI (migrate, start, workflow ...).
name: {name}
# SQLite by default ({name}.sqlite beside the program); for Postgres, for example:
# system_database_url: ${{DBOS_SYSTEM_DATABASE_URL}}
runtimeConfig:
  start:
    - python3 main.py
"""

MAIN = '''\
"""{name}: a durable workflow that survives crashes (run it, kill it, run it again)."""

from dbos import DBOS, DBOSConfig


@DBOS.step()
def greet(name: str) -> str:
    return f"Hello, {{name}}!"


@DBOS.step()
def record(greeting: str) -> str:
    print(greeting)
    return greeting


@DBOS.workflow()
def hello(name: str) -> str:
    greeting = greet(name)
    DBOS.sleep(1)  # durable: after a crash the workflow resumes here
    return record(greeting)


if __name__ == "__main__":
    config: DBOSConfig = {{"name": "{name}"}}
    DBOS(config=config)
    DBOS.launch()  # finishes any workflow a crash interrupted
    hello("{name}")
    DBOS.destroy()
'''


def create_project(name: str, template: str, config_only: bool, into: Path) -> list[Path]:
    """Write the project's files; refuse to overwrite anything. Returns what was written."""
    try:
        validate_app_name(name)
    except InvalidSettings as exc:
        raise click.ClickException(str(exc)) from exc
    if template not in KNOWN_TEMPLATES:
        raise click.ClickException(
            f"Unknown template {template!r}; templates: {', '.join(KNOWN_TEMPLATES)}"
        )
    if template != BUNDLED:
        raise click.ClickException(
            f"Template {template!r} is published on GitHub and this CLI fetches nothing; "
            f"{BUNDLED} is bundled"
        )
    files = {into / "dbos-config.yaml": CONFIG.format(name=name)}
    if not config_only:
        files[into / "main.py"] = MAIN.format(name=name)
    existing = [p for p in files if p.exists()]
    if existing:
        raise click.ClickException(f"{existing[0]} already exists; nothing was written")
    into.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text)
    return list(files)
