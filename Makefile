# The two commands that do everything on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PG_URL ?= postgres://postgres@127.0.0.1:5432/cipn_lab
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test venv lint migrations-check test-sqlite test-postgres chromium bench load serve clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

## make run: install, migrate, load the demo studies and users, serve on http://127.0.0.1:8000
run: venv
	$(PY) manage.py migrate --no-input
	$(PY) manage.py load_demo
	$(PY) manage.py create_demo_users
	@echo ""
	@echo "  CIPN lab is running at http://$(HOST):$(PORT)/  (Ctrl-C stops it)"
	@echo ""
	$(PY) manage.py runserver $(HOST):$(PORT)

## make test: lint, migrations check, the whole suite on SQLite and again on PostgreSQL
test: venv chromium lint migrations-check test-sqlite test-postgres

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

migrations-check: venv
	$(PY) manage.py makemigrations --check --dry-run

test-sqlite: venv
	env -u DATABASE_URL $(PY) -m pytest $(PYTEST_ARGS)

test-postgres: venv
	@if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then \
	  DATABASE_URL=$(PG_URL) $(PY) -m pytest $(PYTEST_ARGS); \
	elif [ "$${CI:-}" = "true" ]; then \
	  echo "PostgreSQL at 127.0.0.1:5432 is not reachable: CI does not skip it." >&2; exit 1; \
	else \
	  echo "WARNING: PostgreSQL at 127.0.0.1:5432 is not reachable; its run is skipped here." >&2; \
	fi
