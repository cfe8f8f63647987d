# safepassage: `make run` serves the demo organisation, `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SECRETS := var/secrets.env
# Loads the generated local secrets into the environment of one command.
WITH_SECRETS := set -a && . ./$(SECRETS) && set +a &&
# The production settings as a deployment loads them, with fake but valid secrets
# made fresh for one command (for `check --deploy`; nothing is served or stored).
WITH_PRODUCTION_SETTINGS := DJANGO_SETTINGS_MODULE=safepassage.settings.production \
	SAFEPASSAGE_SECRET_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))') \
	SAFEPASSAGE_DISPATCH_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_hex(32))') \
	SAFEPASSAGE_ALLOWED_HOSTS=safepassage.example.org \
	SAFEPASSAGE_BASE_URL=https://safepassage.example.org

.PHONY: run install secrets migrate demo test check lint format pytest test-postgres test-property bench clean browser-deps

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
# Security: bandit fails on any high-severity finding; the production settings
# pass Django's deployment checks with no warning.
	$(BIN)/bandit -r safepassage -lll -q
	$(WITH_PRODUCTION_SETTINGS) $(BIN)/safepassage check --deploy --fail-level WARNING

# axe-core for the browser tests' accessibility checks, from the npm registry at
# the version and hash pinned in tests/browser/package-lock.json.
AXE := tests/browser/node_modules/axe-core/axe.min.js

browser-deps: $(AXE)

$(AXE): tests/browser/package.json tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error
	touch $(AXE)

pytest: install browser-deps
	$(BIN)/pytest -n 2 --dist loadfile

# The same suite against PostgreSQL (used by .ci/run).
test-postgres: install browser-deps
	SAFEPASSAGE_DATABASE_URL=$${SAFEPASSAGE_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/safepassage} $(BIN)/pytest -n 2 --dist loadfile

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The need-to-know property over thousands of random organisations (the
# dedicated slow run: EXAMPLES=10000 by default; see docs/SECURITY.md).
test-property: install
	SAFEPASSAGE_PROPERTY_EXAMPLES=$${EXAMPLES:-10000} SAFEPASSAGE_PROPERTY_SHARDS=$${SHARDS:-2} $(BIN)/pytest tests/vault/test_need_to_know_property.py --runslow -k many_shapes -p no:cacheprovider -n $${SHARDS:-2} --hypothesis-show-statistics

bench: install
	$(BIN)/python bench/vault.py

clean:
	rm -rf $(VENV) var build *.egg-info
