"""WSGI entry point: `gunicorn identidock.wsgi`.

Image hits and revalidations are answered by `FastImages` in front of Django; every
other request goes through Django's whole request machinery.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "identidock.settings")

django_application = get_wsgi_application()

from monsters.fast_images import FastImages  # noqa: E402  (needs the settings loaded)

application = FastImages(django_application)
