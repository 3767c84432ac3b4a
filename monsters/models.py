from __future__ import annotations

from django.db import models
from django.utils import timezone


class Generation(models.Model):
    """One monster actually generated: a cache miss that produced an image.

    Never the name: only its salted hash, which cannot be turned back into it.
    """

    class Origin(models.TextChoices):
        WEB = "web", "Web"
        WARM = "warm", "Cache warmer"
        ADMIN = "admin", "Admin action"
        AVATAR = "avatar", "Avatar API"

    # Not choices: the styles are whatever the renderer registers (renderer/styles/).
    MONSTER_STYLE = "monster"

    class Format(models.TextChoices):
        PNG = "png", "PNG"
        SVG = "svg", "SVG"
        WEBP = "webp", "WebP"

    name_hash = models.CharField("hash", max_length=64)
    size = models.PositiveSmallIntegerField()
    # The image's format. Rows from before formats were PNGs; the database's own default
    # says so too, so a process still running the code from before can go on inserting
    # rows while the new code rolls out.
    format = models.CharField(
        max_length=4, choices=Format.choices, default=Format.PNG, db_default=Format.PNG
    )
    # The image's style. Rows from before styles were monsters; the database's default
    # says so too, for processes still running the code from before (as `format`).
    style = models.CharField(max_length=32, default=MONSTER_STYLE, db_default=MONSTER_STYLE)
    source = models.CharField(max_length=32)
    origin = models.CharField(max_length=8, choices=Origin.choices)
    png_bytes = models.PositiveIntegerField("bytes")
    render_ms = models.FloatField("render ms")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Set by the service when the generation happens, so a row replayed from the durable
    # queue is written once however often it is replayed. Rows from before it have none.
    event_id = models.UUIDField(null=True, unique=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "generation"
        indexes = [
            models.Index(fields=["name_hash", "size"], name="generation_hash_size"),
            # The admin at a million rows. A hash-prefix search is `LIKE 'ab12%'`, which
            # a btree serves only under the C collation or with a pattern opclass
            # (PostgreSQL; other databases get a plain index and ignore the opclass).
            models.Index(
                fields=["name_hash"],
                name="generation_hash_prefix",
                opclasses=["varchar_pattern_ops"],
            ),
            # Each changelist filter, newest first, without walking the whole log; the
            # leading column also answers "which sizes exist" with a few index probes.
            models.Index(fields=["origin", "-created_at"], name="generation_origin_created"),
            models.Index(fields=["source", "-created_at"], name="generation_source_created"),
            models.Index(fields=["size", "-created_at"], name="generation_size_created"),
            models.Index(fields=["style", "-created_at"], name="generation_style_created"),
        ]

    def __str__(self) -> str:
        return f"{self.name_hash[:12]} @ {self.size}px {self.style} {self.format} ({self.origin})"
