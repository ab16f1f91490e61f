"""Module line budget: fail when any module under src/ is longer than the limit.

House style rule 2: a module that grows past the budget is split into a package behind the
same public names. Usage: ``python scripts/check_module_size.py [--max-lines N] [ROOT ...]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

MAX_LINES = 600
REPO_ROOT = Path(__file__).resolve().parent.parent


def count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def find_offenders(roots: list[Path], max_lines: int) -> list[tuple[Path, int]]:
    offenders = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            lines = count_lines(path)
            if lines > max_lines:
                offenders.append((path, lines))
    return offenders


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="*", type=Path, default=[REPO_ROOT / "src"])
    parser.add_argument("--max-lines", type=int, default=MAX_LINES)
    args = parser.parse_args(argv)
    missing = [root for root in args.roots if not root.is_dir()]
    if missing:
        print(f"check_module_size: no such directory: {', '.join(map(str, missing))}")
        return 2
    offenders = find_offenders(args.roots, args.max_lines)
    if offenders:
        print(f"Modules over the {args.max_lines}-line budget (split them into a package):")
        for path, lines in offenders:
            shown = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
            print(f"  {shown}: {lines} lines")
        return 1
    print(f"check_module_size: every module is within {args.max_lines} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
