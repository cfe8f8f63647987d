# safepassage: `make run` serves the demo organisation, `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SECRETS := var/secrets.env
# Loads the generated local secrets into the environment of one command.
WITH_SECRETS := set -a && . ./$(SECRETS) && set +a &&

.PHONY: run install secrets migrate demo test check lint format pytest test-postgres bench clean

run: install secrets
	$(WITH_SECRETS) $(BIN)/safepassage migrate --noinput
	$(WITH_SECRETS) $(BIN)/safepassage demo --if-absent
	$(WITH_SECRETS) bin/serve-dev

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	DJANGO_SETTINGS_MODULE=safepassage.settings.test $(BIN)/safepassage compiletranslations
	touch $(STAMP)

# Local development secrets, generated once and never committed.
secrets: $(SECRETS)

$(SECRETS):
	mkdir -p var
	umask 077 && $(PYTHON) -c 'import secrets; print("SAFEPASSAGE_SECRET_KEY=" + secrets.token_urlsafe(50)); print("SAFEPASSAGE_DISPATCH_KEY=" + secrets.token_hex(32))' > $(SECRETS)

test: check pytest

check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_SETTINGS_MODULE=safepassage.settings.test $(BIN)/safepassage makemigrations --check --dry-run
	$(BIN)/mypy safepassage

pytest: install
	$(BIN)/pytest -n 2 --dist loadfile

# The same suite against PostgreSQL (used by .ci/run).
test-postgres: install
	SAFEPASSAGE_DATABASE_URL=$${SAFEPASSAGE_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/safepassage} $(BIN)/pytest -n 2 --dist loadfile

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python bench/vault.py

clean:
	rm -rf $(VENV) var build *.egg-info
