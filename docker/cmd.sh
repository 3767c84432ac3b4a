#!/usr/bin/env bash
# The container's start script. As in the original identidock's cmd.sh, ENV chooses what
# runs: DEV -> Django's auto-reloading server, UNIT -> the test suite, anything else ->
# gunicorn with gunicorn.conf.py. `exec`, so the server is PID 1 and gets docker's SIGTERM.
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
    exec gunicorn --config gunicorn.conf.py identidock.wsgi
    ;;
esac
