"""Values worked out from the settings once per process, anew when a setting changes."""

from __future__ import annotations

from monsters.per_settings import per_settings

calls: list[str] = []


@per_settings
def greeting() -> str:
    from django.conf import settings

    calls.append("greeting")
    return f"hello from {settings.IDENTIDOCK_SALT}"


@per_settings(maxsize=2)
def shout(word: str) -> str:
    calls.append(word)
    return word.upper()


def test_a_value_is_worked_out_once_until_a_setting_changes(settings):
    calls.clear()
    settings.IDENTIDOCK_SALT = "salt-1"
    assert greeting() == greeting() == "hello from salt-1"
    assert calls == ["greeting"]
    settings.IDENTIDOCK_SALT = "salt-2"
    assert greeting() == "hello from salt-2"
    assert calls == ["greeting", "greeting"]


def test_a_bounded_one_keeps_only_the_most_recent_calls(settings):
    calls.clear()
    for word in ["a", "b", "a", "c", "b"]:
        shout(word)
    assert calls == ["a", "b", "c", "b"]  # "b" was the least recent when "c" came
