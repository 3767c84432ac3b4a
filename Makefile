# Identidock: the verbs people expect. `make run` and `make test` are all a newcomer needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 5000
# The embedded defaults need only a secret key; make one per checkout, kept under var/.
LOCAL_ENV = SECRET_KEY="$${SECRET_KEY:-$$(cat var/secret_key)}"

.PHONY: run test lint format bench migrations-check contact-sheet clean

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
	$(LOCAL_ENV) $(VENV)/bin/gunicorn identidock.wsgi --bind $(HOST):$(PORT) \
		--workers 2 --threads 4 --access-logfile -

## test: the whole suite against PostgreSQL and Redis (DATABASE_URL / TEST_REDIS_URL)
test: $(VENV)/.dev
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## bench: the benchmarks under bench/ (each uses a database and Redis db of its own: see its docstring)
bench: $(VENV)/.base
	$(PY) bench/warm_bench.py
	$(PY) bench/warm_memory.py

migrations-check: $(VENV)/.dev
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

contact-sheet: $(VENV)/.base
	$(PY) scripts/contact_sheet.py

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
