"""WSGI entry point: `gunicorn identidock.wsgi`.

Outermost, every request gets an id and is counted (RequestContext). Then a thin layer
answers image hits and revalidations in front of Django (FastImages), by the same
function the image views call, and hands every other request to Django unchanged.
Django's answers to HEAD lose their body on the way out (NoBodyOnHead).
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "identidock.settings")

django_application = get_wsgi_application()

# These need the settings loaded.
from monsters.web.front import FastImages  # noqa: E402
from monsters.web.head import NoBodyOnHead  # noqa: E402
from monsters.web.request_context import RequestContext  # noqa: E402

application = RequestContext(FastImages(NoBodyOnHead(django_application)))
