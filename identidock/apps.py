"""The project as an app of its own, for what Django only finds in apps: its checks."""

from __future__ import annotations

from django.apps import AppConfig


class IdentidockConfig(AppConfig):
    name = "identidock"
    verbose_name = "Identidock"

    def ready(self) -> None:
        from identidock import checks  # noqa: F401  (registers the deployment checks)
