"""Names and their hashes: the only place a name becomes a hash.

The hash is exactly the original Flask app's: sha256(salt + name), hex. The name
itself is never stored or sent on; only this hash leaves the request.
"""

from __future__ import annotations

import hashlib
import unicodedata

from django.conf import settings

MAX_NAME_LENGTH = 200
# Format characters (zero-width space, RTL override, BOM) and spaces: a name made of
# nothing else would look empty, and would share nothing a person could recognise.
INVISIBLE_CATEGORIES = frozenset({"Cf", "Zs", "Zl", "Zp"})
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
    if any(unicodedata.category(char) in {"Cc", "Cs"} for char in name):
        return "A name cannot contain control characters."
    if all(unicodedata.category(char) in INVISIBLE_CATEGORIES for char in name):
        return "A name needs at least one visible character."
    return None
