# The two commands of the README. Each creates .venv itself, so they work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit browser-deps db-deps catalog clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/mailer demo

# Debian's Chromium drives the browser tests (Playwright's own download does not work offline).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

# Debian's PostgreSQL: tests/postgres_server.py runs its own throwaway cluster with these programs
# (on its own port, so a cluster the package starts itself, or fails to start, does not matter).
db-deps:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null)

# The Dutch catalog after texts in the code changed: new texts are added with an empty Dutch
# translation (fill them in; `make test` fails until every one is there and none is fuzzy).
CATALOG_DIR := mailer/locale
catalog: $(STAMP)
	$(BIN)/pybabel -q extract --no-location --sort-output -k N_ \
		--project intake-mailer -o $(CATALOG_DIR)/mailer.pot mailer
	$(BIN)/pybabel -q update --no-fuzzy-matching --ignore-obsolete --width 100 \
		-i $(CATALOG_DIR)/mailer.pot -d $(CATALOG_DIR) -D mailer
	rm $(CATALOG_DIR)/mailer.pot

lint: $(STAMP)
	$(BIN)/ruff check mailer tests benchmarks
	$(BIN)/ruff format --check mailer tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy --strict mailer

unit: $(STAMP) browser-deps db-deps
	$(BIN)/pytest

test: lint typecheck unit

clean:
	rm -rf $(VENV) demo-workspace test-artifacts
