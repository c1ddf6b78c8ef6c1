# Parapet: `make demo` and `make test` are the two commands a new user needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help install demo test bench lint format docs lock stop-db clean

help:
	@echo "make demo     simulated AWS organization, real scans, dashboard on http://127.0.0.1:8000"
	@echo "make test     the whole test suite (embedded Postgres unless DATABASE_URL is set)"
	@echo "make lint     ruff check + format check"
	@echo "make bench    performance figures as ratios (BENCH_SCALE=small|full)"

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	touch $(STAMP)

demo: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo

# One pytest worker per core (pytest-xdist), each with its own test database;
# a file's tests stay on one worker so module fixtures are built once.
# TEST_WORKERS=0 runs everything in this process.
TEST_WORKERS ?= auto
test: install
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

# Performance figures, each a ratio measured in one run (docs/performance.md).
# BENCH_SCALE=small (default, a few minutes) or full (the sizes of issue #5).
bench: install
	$(PY) -m bench

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The control catalog as Markdown; a test fails when it is stale.
docs: install
	$(PY) manage.py controls --format markdown --output docs/controls.md

# Regenerate the pinned lock from pyproject.toml (needs uv: pip install uv).
lock:
	uv pip compile pyproject.toml --extra dev -o requirements.lock

# Stop the embedded PostgreSQL started by manage.py / pytest (data is kept).
stop-db:
	@if [ -d .pgdata ]; then $(PY) -c "import pgserver; \
	  pgserver.get_server('.pgdata', cleanup_mode='stop')"; fi

clean: stop-db
	rm -rf .pgdata test-artifacts staticfiles
