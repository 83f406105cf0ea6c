# The two commands that do everything on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PG_URL ?= postgres://postgres@127.0.0.1:5432/cipn_lab
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test venv lint migrations-check test-sqlite test-postgres chromium bench load serve clean \
	fuzz backup

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

## make bench: a 200-animal study on SQLite (or DATABASE_URL's PostgreSQL) against the raw
## floor; writes bench/results.json (see README, "Performance")
bench: venv
	$(PY) -m bench $(BENCH_ARGS)

## make serve: production serving with gunicorn and WhiteNoise (README "Production").
## Needs SECRET_KEY and ALLOWED_HOSTS in the environment; DEBUG is forced off.
serve: venv
	@test -n "$${SECRET_KEY:-}" || { \
	  echo "make serve: SECRET_KEY is not set. Export a long random key, for instance:" >&2; \
	  echo "  export SECRET_KEY=\"\$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')\"" >&2; \
	  exit 1; }
	@# A local try without TLS (SECURE_SSL_REDIRECT=0) shows the deployment warnings but runs.
	DEBUG=0 $(PY) manage.py check --deploy \
	  --fail-level $(if $(filter 0 false no off,$(SECURE_SSL_REDIRECT)),ERROR,WARNING)
	DEBUG=0 $(PY) manage.py migrate --no-input
	DEBUG=0 $(PY) manage.py collectstatic --no-input -v 0
	DEBUG=0 $(VENV)/bin/gunicorn -c gunicorn.conf.py

## make load: 20 technicians and 5 PIs against gunicorn for 2 minutes, on SQLite then on
## PostgreSQL (README "Load test"). Not part of make test: the figures depend on the machine.
LOAD_ARGS ?=
load: venv
	$(PY) -m pip install --quiet -r requirements-load.txt
	$(PY) load/run.py --database sqlite $(LOAD_ARGS)
	@if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then \
	  $(PY) load/run.py --database postgres $(LOAD_ARGS); \
	else echo "WARNING: PostgreSQL at 127.0.0.1:5432 is not reachable; its load run is skipped." >&2; fi

## make fuzz: the property-based tests and the API fuzzing with many more examples
fuzz: venv
	FUZZ_EXAMPLES=500 API_FUZZ_EXAMPLES=100 env -u DATABASE_URL $(PY) -m pytest -q \
	  tests/fuzz tests/api/test_schemathesis.py $(PYTEST_ARGS)

## make backup: an online backup of the configured database into backups/ (README)
backup: venv
	@mkdir -p backups
	$(PY) manage.py backup_database backups/cipn-$$(date -u +%Y%m%d-%H%M%S).$$( \
	  case "$${DATABASE_URL:-sqlite}" in postgres*) echo dump;; *) echo sqlite3;; esac)
