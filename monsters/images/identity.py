"""Names and their hashes: the only place a name becomes a hash.

The hash is exactly the original Flask app's: sha256(salt + name), hex. The name
itself is never stored or sent on; only this hash leaves the request.
"""

from __future__ import annotations

import hashlib
import unicodedata

from django.conf import settings

MAX_NAME_LENGTH = 200
# Characters that draw nothing by themselves: format characters (zero-width space, RTL
# override, BOM), spaces, and combining marks (U+0301), which only change the letter
# before them. A name made of nothing else would look empty (or like a stray accent),
# and would share nothing a person could recognise.
INVISIBLE_CATEGORIES = frozenset({"Cf", "Zs", "Zl", "Zp", "Mn", "Me"})
# Letters and symbols that Unicode files as visible but that every font draws blank:
# the Hangul fillers (choseong, jungseong, compatibility, halfwidth) and the empty
# braille pattern, the usual ways to post a "blank" name where one is required.
BLANK_CODE_POINTS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Line and paragraph separators break a name over lines wherever it is shown again (the
# admin, a shared page's title): refused anywhere in a name, like control characters.
SEPARATOR_CATEGORIES = frozenset({"Zl", "Zp"})
NAME_HASH_PATTERN = r"[0-9a-f]{64}"


def hash_name(name: str, *, salt: str | None = None) -> str:
    """The salted SHA-256 hex digest that stands for `name` everywhere."""
    salted = (settings.IDENTIDOCK_SALT if salt is None else salt) + name
    return hashlib.sha256(salted.encode("utf-8")).hexdigest()


def name_problem(name: str) -> str | None:
    """Why `name` (already stripped) is not acceptable, or None when it is."""
    if not name:
        return "Please type a name."
    if len(name) > MAX_NAME_LENGTH:
        return f"A name can be at most {MAX_NAME_LENGTH} characters (this one has {len(name)})."
    categories = [unicodedata.category(char) for char in name]
    if any(category in {"Cc", "Cs"} for category in categories):
        return "A name cannot contain control characters."
    if any(category in SEPARATOR_CATEGORIES for category in categories):
        return "A name must be on one line (no line or paragraph separators)."
    if all(
        category in INVISIBLE_CATEGORIES or char in BLANK_CODE_POINTS
        for char, category in zip(name, categories, strict=True)
    ):
        return "A name needs at least one visible character."
    return None
