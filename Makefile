# Identidock: the verbs people expect. `make run` and `make test` are all a newcomer needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 5000
# The embedded defaults need only a secret key; make one per checkout, kept under var/.
# A monster's page shares absolute URLs: they name the address `make run` serves at.
LOCAL_ENV = SECRET_KEY="$${SECRET_KEY:-$$(cat var/secret_key)}" \
	PUBLIC_BASE_URL="$${PUBLIC_BASE_URL:-http://$(HOST):$(PORT)}"

.PHONY: run stack cluster test lint format bench failover observe migrations-check k8s-check contact-sheet screenshots brand-icons clean

$(VENV)/.base: requirements/base.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/base.txt
	touch $@

$(VENV)/.dev: $(VENV)/.base requirements/dev.txt
	$(PY) -m pip install --quiet -r requirements/dev.txt
	touch $@

var/secret_key:
	mkdir -p var
	$(PYTHON) -c "import secrets; print(secrets.token_urlsafe(50))" > $@
	chmod 600 $@

## run: start Identidock on http://127.0.0.1:5000 (SQLite, local-memory cache, built-in renderer)
run: $(VENV)/.base var/secret_key
	$(LOCAL_ENV) $(PY) manage.py migrate --noinput
	$(LOCAL_ENV) $(PY) manage.py collectstatic --noinput --verbosity 0
	@# One process: the local-memory cache lives in a process, so more would not share it.
	@# No proxy in front, so a client slow to send its request holds a thread meanwhile:
	@# 32 threads keep a handful of those from stalling it. Expose `make stack` or
	@# compose (nginx in front), never this, to a network.
	$(LOCAL_ENV) $(VENV)/bin/gunicorn -c gunicorn.conf.py --bind $(HOST):$(PORT) \
		--workers 1 --threads 32 identidock.wsgi

## stack: the docker-compose topology without Docker: renderer + migrate + identidock under
## gunicorn behind nginx, against the local PostgreSQL and Redis (DATABASE_URL, REDIS_URL)
stack: $(VENV)/.dev
	$(PY) -m scripts.stack --port $(PORT) $(STACK_ARGS)

## cluster: `make stack` with three identidock servers behind nginx (each on its own port,
## with its own metrics port), one renderer, the local PostgreSQL and Redis
cluster: $(VENV)/.dev
	$(PY) -m scripts.stack --port $(PORT) --replicas 3 $(STACK_ARGS)

## test: the whole suite against PostgreSQL and Redis (DATABASE_URL / TEST_REDIS_URL), with
## a coverage report that fails below the floor in pyproject.toml. Two pytest-xdist workers,
## a file at a time (so a module's fixtures start once); TEST_WORKERS=0 for one process.
TEST_WORKERS ?= 2
test: $(VENV)/.dev
	@# Coverage data in a directory of the run's own: two runs in one checkout never combine
	@# each other's files.
	data=$$(mktemp -d) && trap 'rm -rf "$$data"' EXIT && \
		COVERAGE_FILE="$$data/.coverage" $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile \
		--cov --cov-report=term-missing $(PYTEST_ARGS)

## lint: ruff (lint and format check), then mypy with django-stubs (config in pyproject.toml)
lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(VENV)/.dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## bench: the benchmarks under bench/ (each uses a database and Redis db of its own: see its
## docstring), each writing its figures to bench/results/<date>-<bench>.md; the hit, page, miss
## and proxy benches run together (bench/serving_bench.py) into one file,
## bench/results/<date>-serving_bench.md, every serving target first. They need wrk (apt) and
## nginx; the hit bench takes HIT_BENCH_ARGS (by default a second Identidock with the
## in-process tier off, for "hit, Redis only"), and all four take SERVE_BENCH_ARGS (e.g.
## "--duration 10 --rounds 5"; three rounds by default); the slow-client, fault
## and cluster benches run the stack, which needs the dev requirements and nginx (and the
## cluster bench wrk)
HIT_BENCH_ARGS ?= --redis-only-env MONSTER_PROCESS_CACHE_MB=0
SERVE_BENCH_ARGS ?=
bench: $(VENV)/.dev
	$(PY) bench/renderer_bench.py
	$(PY) bench/warm_bench.py
	$(PY) bench/warm_memory.py
	$(PY) bench/admin_bench.py
	$(PY) bench/serving_bench.py --hit-args="$(HIT_BENCH_ARGS)" $(SERVE_BENCH_ARGS)
	$(PY) bench/profile_requests.py
	$(PY) bench/renderer_clients.py
	$(PY) bench/slow_clients_bench.py
	$(PY) bench/slow_clients_bench.py --direct
	$(PY) bench/fault_bench.py
	$(PY) bench/formats_bench.py
	$(PY) bench/cluster_bench.py
	$(PY) bench/cluster_bench.py --kill

## observe: Prometheus (Debian's `prometheus`) on http://127.0.0.1:9090, scraping the metrics
## of `make stack` (127.0.0.1:9100) with the alerting rules of deploy/prometheus/; Ctrl-C stops it
observe:
	@command -v prometheus >/dev/null || { echo "prometheus is missing: apt-get install -y prometheus"; exit 1; }
	mkdir -p var/prometheus
	prometheus --config.file=deploy/prometheus/prometheus.yml --storage.tsdb.path=var/prometheus \
		--web.listen-address=127.0.0.1:9090

## failover: kill the Redis primary under load behind Sentinel, and print what clients saw (FAILOVER_ARGS="--rounds 1")
failover: $(VENV)/.base
	$(PY) bench/failover_bench.py $(FAILOVER_ARGS)

migrations-check: $(VENV)/.dev
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

## k8s-check: render deploy/k8s's overlays with `kubectl kustomize` (no cluster) and validate
## every object against Kubernetes 1.32's schemas, offline (kubernetes-validate)
k8s-check: $(VENV)/.dev
	$(PY) -m scripts.k8s_check

contact-sheet: $(VENV)/.base
	$(PY) scripts/contact_sheet.py

## screenshots: the home page on a desktop and a phone, in Chromium, into docs/screenshots/
screenshots: $(VENV)/.dev
	$(PY) -m pytest tests/browser/screenshots.py -p no:cacheprovider $(PYTEST_ARGS)

## brand-icons: redraw the favicon and masthead mark (the monster of "Identidock")
brand-icons: $(VENV)/.base
	$(PY) scripts/brand_icons.py

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache .mypy_cache .coverage
