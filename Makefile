# The one task entry point: `make demo`, `make test`, `make check`, `make bench`.
#
# Every target bootstraps .venv itself, so each works on a fresh clone. The bootstrap is keyed
# on a stamp file inside .venv and re-runs only when pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.bootstrap-stamp

# Everything Python in the repo is linted and format-checked; mypy reads its file list from
# pyproject.toml (strict on src/dbos and benchmarks).
LINT_PATHS := src tests scripts benchmarks examples
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help .venv demo test check lint format-check typecheck imports module-size bench postgres clean

help:
	@echo "make demo    run examples/crash_demo.py (kill -9 mid-workflow, then recover)"
	@echo "make test    make check, then the whole pytest suite (starts Postgres if it can)"
	@echo "make check   ruff, ruff format --check, mypy, lint-imports, module-size budget"
	@echo "make bench   run benchmarks/run_all.py"
	@echo "make .venv   create/refresh the virtualenv (automatic for the targets above)"

# ------------------------------------------------------------------ bootstrap
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[dev]'
	touch $(STAMP)

.venv: $(STAMP)

# ------------------------------------------------------------------ tasks
demo: .venv
	$(PY) examples/crash_demo.py

lint: .venv
	$(PY) -m ruff check $(LINT_PATHS)

format-check: .venv
	$(PY) -m ruff format --check $(LINT_PATHS)

typecheck: .venv
	$(PY) -m mypy

imports: .venv
	$(VENV)/bin/lint-imports

module-size: .venv
	$(PY) scripts/check_module_size.py

# Run every check even when an earlier one fails (make -k semantics within this target), so
# one CI run reports all findings; fail at the end if any failed.
check: .venv
	@failed=""; \
	for target in lint format-check typecheck imports module-size; do \
		echo "==> $$target"; \
		$(MAKE) --no-print-directory $$target || failed="$$failed $$target"; \
	done; \
	if [ -n "$$failed" ]; then echo "make check: FAILED:$$failed" >&2; exit 1; fi; \
	echo "make check: all checks passed"

postgres:
	scripts/ensure_postgres.sh

# pytest exits 5 when it collects no tests; an empty run is a broken suite, not a pass.
test: check postgres
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; \
	exit $$rc

bench: .venv
	$(PY) benchmarks/run_all.py

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .hypothesis build dist
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
