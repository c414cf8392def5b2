# Wireflow: `make dev` to try it, `make test` to check it.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1

# The test suite runs against real services; these are the local defaults.
TEST_ENV := DATABASE_URL=$${TEST_DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/wireflow} \
            REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}

.PHONY: dev test serve bench install install-test editor services chromium lint migrate seed clean

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

migrate: install
	DEBUG=1 $(BIN)/python manage.py migrate --noinput

seed: migrate
	DEBUG=1 $(BIN)/python manage.py seed

## make dev: the embedded default (SQLite, in-process executor, simulators) on http://$(HOST):$(PORT)
dev: install editor seed
	@echo "Wireflow is starting on http://$(HOST):$(PORT)  (demo login: demo@wireflow.local / wireflow-demo)"
	DEBUG=1 SITE_URL=http://$(HOST):$(PORT) $(BIN)/uvicorn wireflow_site.asgi:application \
		--host $(HOST) --port $(PORT)

services:
	scripts/ensure-services.sh

chromium:
	scripts/ensure-chromium.sh

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/mypy .

## make test: everything, against real PostgreSQL, Redis, Celery workers and Chromium
test: install-test editor services chromium lint
	scripts/test-editor.sh
	$(TEST_ENV) $(BIN)/pytest $(PYTEST_ARGS)

## make serve: production processes (set DATABASE_URL, REDIS_URL, SECRET_KEY first)
serve: install
	scripts/serve.sh

bench: install-test services
	$(TEST_ENV) $(BIN)/python -m bench

clean:
	rm -rf $(VENV) var static/editor editor/node_modules
