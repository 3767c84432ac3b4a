"""The image formats a monster is served in, and how a URL names them.

`/monster/<hash>` is PNG, as in the original app; `/monster/<hash>.png`, `.svg` and
`.webp` name their format. An explicit extension, never content negotiation: one URL,
one representation, so every cache on the way keeps it without `Vary: Accept`.
"""

from __future__ import annotations

PNG = "png"
SVG = "svg"
WEBP = "webp"
FORMATS = (PNG, SVG, WEBP)
DEFAULT = PNG

ANY = "|".join(FORMATS)
# The optional extension after a hash in a path (the fast layer's and the middleware's
# patterns; urls.py routes the same names); its one group is the format.
EXTENSION_PATTERN = rf"(?:\.({ANY}))?"
