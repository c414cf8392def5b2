# Wireflow: `make dev` to try it, `make test` to check it.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1
# make test's pytest processes (pytest-xdist): each has its own test database and Redis database.
TEST_PROCESSES ?= 2

# The test suite runs against real services; these are the local defaults.
TEST_ENV := DATABASE_URL=$${TEST_DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/wireflow} \
            REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}

.PHONY: dev test serve build bench install install-test editor services chromium lint migrate seed clean \
        api-snapshot dev-env

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

editor:
	@if [ -f editor/package.json ]; then scripts/build-editor.sh; fi

# The development settings, left where manage.py finds them (wireflow_site/settings.py), so the
# README's commands work in a second terminal: .venv/bin/python manage.py createapikey ...
dev-env:
	@mkdir -p var
	@printf '%s\n' "# Written by make dev: development settings for manage.py, uvicorn and celery in" \
		"# this checkout. Variables set in the environment win; make serve ignores this file." \
		"DEBUG=1" "SITE_URL=http://$(HOST):$(PORT)" > var/dev.env

migrate: install dev-env
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed

## make dev: the embedded default (SQLite, in-process executor, simulators) on http://$(HOST):$(PORT)
dev: install editor seed
	@echo "Wireflow is starting on http://$(HOST):$(PORT)  (demo login: demo@wireflow.local / wireflow-demo)"
	$(BIN)/uvicorn wireflow_site.asgi:application --host $(HOST) --port $(PORT)

## make api-snapshot: after changing the API or the catalogue, regenerate what the editor is
## typed and tested against (editor/src/api/openapi.{json,ts}, editor/src/test/catalogue.json)
api-snapshot: install
	DEBUG=1 WIREFLOW_ENV_FILE= $(BIN)/python manage.py apisnapshot
	cd editor && npm run --silent gen:api

services:
	scripts/ensure-services.sh

chromium:
	scripts/ensure-chromium.sh

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

## make test: everything, against real PostgreSQL, Redis, Celery workers and Chromium
test: install-test editor services chromium lint
	scripts/test-editor.sh
	$(TEST_ENV) $(BIN)/pytest -n $(TEST_PROCESSES) --dist loadfile $(PYTEST_ARGS)

## make build: everything production serves, built once: the Python packages, the editor bundle
## and the collected static files (var/staticfiles/). Node is needed here, never at run time.
build: install editor
	WIREFLOW_ENV_FILE= SECRET_KEY=$${SECRET_KEY:-build-only} $(BIN)/python manage.py \
		collectstatic --noinput --verbosity 0

## make serve: production processes (set DATABASE_URL, REDIS_URL, SECRET_KEY first)
serve: build
	scripts/serve.sh

bench: install-test editor services chromium
	scripts/ensure-wrk.sh
	$(TEST_ENV) $(BIN)/python -m bench $(if $(filter-out 0,$(QUICK)),--quick) $(ARGS)

clean:
	rm -rf $(VENV) var static/editor editor/node_modules
