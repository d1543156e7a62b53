# The README's two commands: `make run` and `make test`. Everything lives in .venv/.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1
# One process by default. `make test PYTEST_WORKERS="-n auto --dist loadgroup"` runs a
# pytest-xdist worker per core, the tests that start processes on one of them, one at a
# time (conftest.py): faster, but the burst test of dispatch/tests/test_live.py (core
# layer) has timed out there while the other worker was busy.
PYTEST_WORKERS ?=

.PHONY: run test lint format migrations check-migrations bench clean

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime

## run: install, migrate, seed demo data and serve on http://$(HOST):$(PORT) (SQLite, in-memory channel layer)
run: $(VENV)/.runtime
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed
	@echo "quickcommerce on http://$(HOST):$(PORT)/  (demo logins: see README)"
	$(PY) -m quickcommerce.serve --host $(HOST) --port $(PORT)

## test: lint, format check, the layering contracts (docs/architecture.md), then the whole suite
test: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .

format: $(VENV)/.dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## migrations: make migrations for both stores (SQLite and mongo_migrations/)
migrations: $(VENV)/.runtime
	$(PY) manage.py makemigrations
	MONGO_URI=mongodb://localhost:27017/quickcommerce QUICKCOMMERCE_DB_ENGINE=django.db.backends.dummy \
		$(PY) manage.py makemigrations

## bench: benchmarks on real processes (~7-10 min on 2 cores); writes docs/benchmarks.md and docs/*.png
bench: | $(PY)
	$(PY) -m pip install --quiet -r requirements-bench.txt
	cd bench/node && npm ci --no-audit --no-fund
	$(PY) -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
