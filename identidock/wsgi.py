"""WSGI entry point: `gunicorn identidock.wsgi`.

Outermost, every request gets an id and is counted (RequestContext). Then two thin
layers answer, in front of Django, what needs none of its request machinery: image
hits and revalidations (FastImages), and the home page for GET and HEAD (FastPage),
each with the same code and the same headers as Django would use, and each handing
everything else on unchanged. Every other request goes through Django's whole request
machinery.

The two layers own disjoint requests, so their order changes no answer, only who
looks first: image requests, several for every page view (the page's monster, its 2x,
other sites' embeds), meet their own layer first, exactly as before the page layer;
the page pays one failed pattern match for it (well under a microsecond).
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "identidock.settings")

django_application = get_wsgi_application()

# These need the settings loaded.
from monsters.fast_images import FastImages  # noqa: E402
from monsters.fast_page import FastPage  # noqa: E402
from monsters.request_context import RequestContext  # noqa: E402

application = RequestContext(FastImages(FastPage(django_application)))
