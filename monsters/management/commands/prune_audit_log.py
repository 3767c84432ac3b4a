"""`manage.py prune_audit_log --older-than DAYS`: delete audit rows older than DAYS.

In batches of --batch-size rows, each its own short transaction (an indexed range of
the oldest rows, then a DELETE by primary key), so a prune of millions of rows never
holds a long lock or one huge transaction, and an interrupted prune keeps what it did.
Schedule it (the Kubernetes manifests run it nightly as a CronJob; cron elsewhere).
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from monsters.models import Generation

DEFAULT_BATCH = 5000


class Command(BaseCommand):
    help = "Delete audit-log rows older than --older-than days, in short batches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", type=int, required=True, metavar="DAYS")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, metavar="N")
        parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        days, batch_size = options["older_than"], options["batch_size"]
        if days < 1:
            raise CommandError(f"--older-than must be at least 1 day, not {days}")
        if batch_size < 1:
            raise CommandError(f"--batch-size must be at least 1, not {batch_size}")
        cutoff = timezone.now() - datetime.timedelta(days=days)
        old = Generation.objects.filter(created_at__lt=cutoff)
        if options["dry_run"]:
            self.stdout.write(
                f"would delete {old.count():,} rows older than {cutoff:%Y-%m-%d %H:%M} UTC"
            )
            return
        deleted = 0
        while ids := list(old.order_by("created_at").values_list("id", flat=True)[:batch_size]):
            with transaction.atomic():
                Generation.objects.filter(id__in=ids).delete()
            deleted += len(ids)
        if options["verbosity"] >= 1:
            self.stdout.write(
                f"deleted {deleted:,} rows older than {cutoff:%Y-%m-%d %H:%M} UTC",
                self.style.SUCCESS,
            )
