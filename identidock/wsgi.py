"""WSGI entry point: `gunicorn identidock.wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "identidock.settings")

application = get_wsgi_application()
