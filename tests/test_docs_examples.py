"""Every ```python block in the README and docs/ runs, so the docs cannot drift from the code."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from dbos import DBOS

ROOT = Path(__file__).parents[1]
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def examples() -> list[tuple[str, str]]:
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for index, code in enumerate(BLOCK.findall(path.read_text())):
            found.append((f"{path.name}#{index + 1}", code))
    return found


@pytest.mark.parametrize(("where", "code"), examples(), ids=[w for w, _ in examples()])
def test_documentation_example_runs(where: str, code: str, tmp_path: Path) -> None:
    previous = Path.cwd()
    os.chdir(tmp_path)  # examples default to a SQLite file in the working directory
    DBOS.destroy(destroy_registry=True)
    try:
        exec(compile(code, where, "exec"), {"__name__": f"docs_{where}"})
    finally:
        DBOS.destroy(destroy_registry=True)
        os.chdir(previous)
