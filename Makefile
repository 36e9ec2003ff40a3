# `make run`: set up and start the app on the embedded SQLite default.
# `make test`: set up and run everything: ruff, mypy (src, pages, bench, tests), the layers'
#   import contracts (lint-imports) and the whole pytest suite, browser tests included
#   (tests/unit, db, pages, http, e2e; minutes). The database tests also run on PostgreSQL
#   when TICKETDESK_TEST_POSTGRES_URL is set (.ci/run sets it).
# `make test-fast`: ruff and the unit tests (tests/unit: no database, no server; seconds).
# `make test-db`: the database tests (tests/db) on SQLite, and PostgreSQL if its URL is set.
# `make bench`: the browser benchmark of bench/README.md (10k, 100k, 1M tickets; long).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: run test test-fast test-db lint ruff bench mutation clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/streamlit run ticket.py

ruff: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

lint: ruff
	$(BIN)/mypy
	$(BIN)/lint-imports

# Three processes (tests are independent: own SQLite files, own PostgreSQL schemas, own
# servers on free ports); a file's tests stay together so its module fixtures start once.
test: lint
	scripts/ensure-chromium
	scripts/ensure-dovecot
	scripts/ensure-haproxy
	$(BIN)/pytest -n 3 --dist loadfile

test-fast: ruff
	$(BIN)/pytest tests/unit

test-db: $(STAMP)
	$(BIN)/pytest tests/db

bench: $(STAMP)
	scripts/ensure-chromium
	$(BIN)/python bench/run.py

mutation: $(STAMP)
	# Slow (hours for every module): mutants of domain, projections, queries and services;
	# MUTATE='ticketdesk.domain.*' narrows it to mutant names. Survivors: .venv/bin/mutmut results
	env -u TICKETDESK_TEST_POSTGRES_URL $(BIN)/mutmut run $(if $(MUTATE),"$(MUTATE)",)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis mutants
