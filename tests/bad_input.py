"""What the bad-input tests hold every refusal to: a one-line reason, and nothing cached
and nothing audited."""

from __future__ import annotations

import re
from typing import cast

from django.core.cache import caches
from django_redis.cache import RedisCache

from monsters.models import Generation


def nothing_cached_or_audited() -> bool:
    redis_cache = cast(RedisCache, caches["monsters"])
    return not redis_cache.keys("monster:*") and not Generation.objects.exists()


def one_line_reason(response) -> str:
    """The reason a refusal gives: the plain-text body, or the form's field error."""
    if response["Content-Type"].startswith("text/plain"):
        return response.content.decode()
    errors = re.findall(r'<p class="field__error"[^>]*>([^<]*)</p>', response.content.decode())
    assert len(errors) == 1, "the form shows exactly one error"
    return errors[0] + "\n"
