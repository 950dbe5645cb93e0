# The two commands a newcomer needs: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PORT ?= 8000

.PHONY: run test lint format deps deps-dev system-deps migrate clean

$(VENV)/.deps-base: requirements/base.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -r requirements/base.txt
	touch $@

$(VENV)/.deps-dev: requirements/base.txt requirements/dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -r requirements/dev.txt
	touch $@ $(VENV)/.deps-base

deps: $(VENV)/.deps-base
deps-dev: $(VENV)/.deps-dev

## Install and run the app on the embedded default (SurrealDB mem://, no other service).
run: deps
	$(PY) manage.py serve --port $(PORT)

## Install everything and run the whole test suite (ruff included).
test: deps-dev
	scripts/test.sh

lint: deps-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: deps-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

migrate: deps
	$(PY) manage.py surreal_migrate

clean:
	rm -rf var media data
