# syntax=docker/dockerfile:1
# Identidock's two images: `docker compose build` builds both (docs/docker.md).
#   web       the last stage, so the default (`docker build .`): the Django app
#   renderer  `docker build --target renderer .`: the renderer alone (renderer/ and its
#             two requirements), the `dnmonster` service
# Python 3.11 on Debian 13, the Python the test suite runs on. The web app's wheels are
# built in the builder stage; the web image gets them through a bind mount, so neither a
# compiler nor the wheel files reach it.

FROM python:3.11-slim-trixie AS builder

# A compiler and libpq's headers, for any requirement without a wheel for this platform.
# DL3008 (pin apt versions) is ignored on purpose: Debian replaces a package version when
# it ships a security fix, so pinned versions stop installing; the base image's Debian
# release is the pin.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install --yes --no-install-recommends build-essential libpq-dev \
    && rm -rf /var/lib/apt/lists/*

# `base` is the runtime; `dev` adds the test tools, for ENV=UNIT (docker-compose.dev.yml).
ARG REQUIREMENTS=base
COPY requirements/ /requirements/
RUN pip wheel --no-cache-dir --wheel-dir /wheels --requirement "/requirements/${REQUIREMENTS}.txt"


# The renderer's image: renderer/ under gunicorn and nothing of the web app (no Django,
# no settings, no gunicorn.conf.py, whose metrics hooks need prometheus-client). One
# Dockerfile for both images: the same base, and one file the tests lint.
FROM python:3.11-slim-trixie AS renderer

LABEL org.opencontainers.image.title="identidock-renderer" \
      org.opencontainers.image.description="Identidock's monsters over the dnmonster API: GET /monster/<id>?size=N."

# WEB_CONCURRENCY is gunicorn's own default for --workers: set it to the CPUs the
# container may use (Kubernetes sets it for its pods).
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    WEB_CONCURRENCY=2

RUN groupadd --system --gid 10001 renderer \
    && useradd --system --uid 10001 --gid renderer --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin renderer

WORKDIR /app

# Pillow and gunicorn ship wheels for every platform we build for: no compiler, and
# --only-binary makes a missing wheel an error rather than a build from source.
COPY requirements/renderer.txt requirements/renderer.txt
RUN pip install --no-cache-dir --only-binary=:all: --requirement requirements/renderer.txt

# The code belongs to root: the server can read it, not change it.
COPY renderer/ renderer/

USER 10001:10001
EXPOSE 8080
# The smallest monster the dnmonster API draws: proof that it renders, not only listens.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/monster/healthcheck?size=8', timeout=4)"]
# gunicorn.conf.py's choices for the web app, as flags: threads for kept-alive
# connections, a graceful timeout under compose's stop_grace_period and the pods'
# termination grace, heartbeats in memory, no control socket ($HOME is read-only), one
# access-log line per request. More settings: GUNICORN_CMD_ARGS (a flag here wins).
CMD ["gunicorn", "--bind", "0.0.0.0:8080", "--worker-class", "gthread", "--threads", "4", "--keep-alive", "5", "--graceful-timeout", "20", "--worker-tmp-dir", "/dev/shm", "--no-control-socket", "--access-logfile", "-", "renderer.wsgi:app"]


# The web app's image, the default target. The renderer is in it too: with DNMONSTER_URL
# unset the web app draws in-process.
FROM python:3.11-slim-trixie AS web

LABEL org.opencontainers.image.title="identidock" \
      org.opencontainers.image.description="A self-hosted identicon service: a name in, a monster out."

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 identidock \
    && useradd --system --uid 10001 --gid identidock --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin identidock

WORKDIR /app

ARG REQUIREMENTS=base
COPY requirements/ requirements/
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels \
        --requirement "requirements/${REQUIREMENTS}.txt"

# The code belongs to root: the server can read it, not change it.
COPY . .
# collectstatic loads the settings, which refuse to start without a SECRET_KEY when DEBUG
# is off. This throwaway key exists only for this one command and signs nothing.
RUN SECRET_KEY=collectstatic-only-not-a-secret \
        python manage.py collectstatic --noinput --verbosity 0 \
    && install --directory --owner identidock --group identidock var

# Numeric, so a runtime that must prove the user is not root (runAsNonRoot) can.
USER 10001:10001
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/healthz', timeout=4)"]
CMD ["/app/docker/cmd.sh"]
