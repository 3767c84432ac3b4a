#!/usr/bin/env bash
# The container's start script. As in the original identidock's cmd.sh, ENV chooses what
# runs: DEV -> Django's auto-reloading server, UNIT -> the test suite, anything else ->
# gunicorn with gunicorn.conf.py, once Django's deployment checks pass. `exec`, so the
# server is PID 1 and gets docker's SIGTERM.
# Migrations are not run here: the one-off `migrate` service runs them once per deploy.
set -o errexit -o nounset -o pipefail

case "${ENV:-PROD}" in
  DEV)
    echo "Running the development server (ENV=DEV)"
    exec python manage.py runserver 0.0.0.0:5000
    ;;
  UNIT)
    echo "Running the test suite (ENV=UNIT)"
    # The code may be mounted read-only or owned by someone else: no .pytest_cache.
    exec python -m pytest -p no:cacheprovider "$@"
    ;;
  *)
    echo "Running the production server (ENV=${ENV:-PROD})"
    # A setting that quietly weakens production (the original app's public salt, SQLite,
    # a monster cache per process: identidock/checks.py) stops the start here, with its
    # fix. Errors only: Django's HTTPS warnings are printed, but compose and the k8s base
    # serve plain HTTP to the proxy unless BEHIND_TLS_PROXY is on.
    python manage.py check --deploy --fail-level ERROR
    exec gunicorn --config gunicorn.conf.py identidock.wsgi
    ;;
esac
