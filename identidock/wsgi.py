"""WSGI entry point: `gunicorn identidock.wsgi`.

Outermost, every request gets an id and is counted (RequestContext); image hits and
revalidations are then answered by FastImages in front of Django; every other request
goes through Django's whole request machinery.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "identidock.settings")

django_application = get_wsgi_application()

# These need the settings loaded.
from monsters.fast_images import FastImages  # noqa: E402
from monsters.request_context import RequestContext  # noqa: E402

application = RequestContext(FastImages(django_application))
