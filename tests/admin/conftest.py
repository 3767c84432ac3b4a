"""Fixtures for the audit-log admin: audit rows and users with exactly the rights named."""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from monsters.models import Generation
from tests.form_client import FormClient


def hex_hash(seed: int | str) -> str:
    """A well-formed 64-hex-digit hash, distinct per seed."""
    return hashlib.sha256(f"test-{seed}".encode()).hexdigest()


@pytest.fixture
def make_generation() -> Callable[..., Generation]:
    """Insert one audit row; any field can be given, the rest are plausible."""

    def make(**fields) -> Generation:
        defaults = {
            "name_hash": hex_hash(Generation.objects.count()),
            "size": 80,
            "source": "dnmonster",
            "origin": Generation.Origin.WEB,
            "png_bytes": 650,
            "render_ms": 12.5,
            "created_at": timezone.now(),
        }
        return Generation.objects.create(**{**defaults, **fields})

    return make


@pytest.fixture
def make_generations(make_generation) -> Callable[..., list[Generation]]:
    """`count` rows one minute apart, newest last."""

    def make(count: int, **fields) -> list[Generation]:
        start = timezone.now() - datetime.timedelta(minutes=count)
        return [
            make_generation(created_at=start + datetime.timedelta(minutes=index), **fields)
            for index in range(count)
        ]

    return make


def _staff_client(username: str, permissions: list[str]) -> FormClient:
    user = User.objects.create_user(username=username, password="pw-for-tests", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="monsters", codename__in=permissions)
    )
    client = FormClient()
    client.force_login(user)
    return client


@pytest.fixture
def viewer_client(db) -> FormClient:
    """A staff member who may view generations, nothing more."""
    return _staff_client("viewer", ["view_generation"])


@pytest.fixture
def deleter_client(db) -> FormClient:
    """A staff member who even holds the delete permission, but is not a superuser."""
    return _staff_client(
        "deleter", ["view_generation", "delete_generation", "change_generation", "add_generation"]
    )


@pytest.fixture
def outsider_client(db) -> FormClient:
    """A staff member without any permission on the audit log."""
    return _staff_client("outsider", [])
