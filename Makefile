# The two commands a newcomer needs: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PORT ?= 8000

.PHONY: run demo test lint format deps deps-dev system-deps migrate clean bench bench-transparency chaos release-gates screenshots soak

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

## Like `run`, with demo users, threads, contributions, vouches and a review queue (sign-in details are printed);
## webhooks go to the development receiver, started inside the demo server, so the outbox shows deliveries.
demo: deps
	$(PY) manage.py serve --port $(PORT) --demo

## Install everything and run the whole test suite (ruff included).
test: deps-dev
	scripts/test.sh

## The four chat release gates (03-chat.md): starts its own server (+ Redis if installed); report in var/.
## deps-dev, not deps: the gate clients need websockets and jsonschema (requirements/dev.txt).
release-gates: deps-dev
	$(PY) manage.py release_gates --report var/release-gates.md

lint: deps-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: deps-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## Chat benchmark, targets 1-4 and 7 of 08-performance.md and issue 14 point 5a (fanout); BENCH_ARGS=--quick for a
## smoke run, --repeat 3 for the spread, --server daphne|uvicorn, --profile for where the CPU goes.
bench: deps-dev
	$(PY) bench/chat_bench.py $(BENCH_ARGS)

## Transparency-log benchmark, issue 10 point 8 (BENCH_ARGS=--quick: 1,000/10,000 leaves, a smoke run).
bench-transparency: deps-dev
	$(PY) bench/transparency_bench.py $(BENCH_ARGS)

## Screenshots of every page at 1280 and 390 px (demo data) into docs/ui/, gallery in docs/ui.md.
screenshots: deps-dev
	$(PY) scripts/screenshots.py

## Chaos drill, issue 12 point 6: kill -9 of server/worker/Redis, S3 stopped, receiver down a simulated day
## (CHAOS_ARGS=--quick: under 4 minutes). One table; bench/results/chaos.{json,md}.
chaos: deps-dev
	$(PY) bench/chaos.py $(CHAOS_ARGS)

## Soak, issue 12 point 7: target 2's load for 10 minutes with webhooks flowing, RSS/fds/tasks/p95 per minute
## (SOAK_ARGS=--minutes 1: a smoke run). One table and a verdict; bench/results/soak.{json,md}.
soak: deps-dev
	$(PY) bench/soak.py $(SOAK_ARGS)

migrate: deps
	$(PY) manage.py surreal_migrate

clean:
	rm -rf var media data
