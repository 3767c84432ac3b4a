# syntax=docker/dockerfile:1
# Identidock's image: `docker compose build` (see README, "Run with Docker").
# Python 3.11 on Debian 13, the Python the test suite runs on. Wheels are built in the
# builder stage; the final image gets them through a bind mount, so neither a compiler
# nor the wheel files reach it.

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


FROM python:3.11-slim-trixie

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
