# Identidock: the verbs people expect. `make run` and `make test` are all a newcomer needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 5000
# The embedded defaults need only a secret key; make one per checkout, kept under var/.
LOCAL_ENV = SECRET_KEY="$${SECRET_KEY:-$$(cat var/secret_key)}"

.PHONY: run stack test lint format bench migrations-check contact-sheet screenshots brand-icons clean

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
	$(LOCAL_ENV) $(VENV)/bin/gunicorn -c gunicorn.conf.py --bind $(HOST):$(PORT) \
		--workers 1 --threads 8 identidock.wsgi

## stack: the docker-compose topology without Docker: renderer + migrate + identidock under
## gunicorn, against the local PostgreSQL and Redis (DATABASE_URL, REDIS_URL)
stack: $(VENV)/.dev
	$(PY) -m scripts.stack --port $(PORT) $(STACK_ARGS)

## test: the whole suite against PostgreSQL and Redis (DATABASE_URL / TEST_REDIS_URL)
test: $(VENV)/.dev
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## bench: the benchmarks under bench/ (the renderer's and the formats' need wrk; all but the renderer's a database and Redis db of their own: see each docstring)
bench: $(VENV)/.base
	$(PY) bench/renderer_bench.py
	$(PY) bench/warm_bench.py
	$(PY) bench/warm_memory.py
	$(PY) bench/admin_bench.py
	$(PY) bench/formats_bench.py

migrations-check: $(VENV)/.dev
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

contact-sheet: $(VENV)/.base
	$(PY) scripts/contact_sheet.py

## screenshots: the home page on a desktop and a phone, in Chromium, into docs/screenshots/
screenshots: $(VENV)/.dev
	$(PY) -m pytest tests/browser/screenshots.py -p no:cacheprovider $(PYTEST_ARGS)

## brand-icons: redraw the favicon and masthead mark (the monster of "Identidock")
brand-icons: $(VENV)/.base
	$(PY) scripts/brand_icons.py

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
