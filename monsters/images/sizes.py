"""Monster sizes accepted by the web route and the cache warmer."""

from __future__ import annotations

DEFAULT_SIZE = 80
MIN_SIZE = 16
MAX_SIZE = 512


def parse_size(value: str | None) -> int:
    """The size in `value` (None or empty means the default); ValueError says why not."""
    if value is None or value == "":
        return DEFAULT_SIZE
    if not value.isascii() or not value.isdigit():
        raise ValueError(f"size must be a whole number from {MIN_SIZE} to {MAX_SIZE}")
    size = int(value)
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be from {MIN_SIZE} to {MAX_SIZE}, not {size}")
    return size
