"""Fill the audit log with synthetic generations, for benchmarks and demos only.

    python manage.py seed_audit_log --rows 1000000

The rows look like a live deployment's (see `monsters.audit.seed`) but no monster
was ever generated for them, so the command refuses to run when DEBUG is off unless
`--force` says this database is meant for it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from monsters.audit import seed as audit_seed


class Command(BaseCommand):
    help = (
        "Bulk-insert N synthetic audit-log rows (random hashes, realistic sizes, origins "
        "and times) for benchmarks and demos. Refuses to run when DEBUG is off unless --force."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--rows", type=int, required=True, help=f"rows to insert, 1 to {audit_seed.MAX_ROWS:,}"
        )
        parser.add_argument(
            "--days",
            type=int,
            default=audit_seed.DEFAULT_DAYS,
            help=f"spread the rows over this many past days (default {audit_seed.DEFAULT_DAYS})",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=audit_seed.DEFAULT_BATCH_SIZE,
            help=f"rows per transaction (default {audit_seed.DEFAULT_BATCH_SIZE:,})",
        )
        parser.add_argument("--seed", type=int, help="random seed, for a repeatable data set")
        parser.add_argument(
            "--force",
            action="store_true",
            help="run although DEBUG is off (only on a database meant for synthetic data)",
        )

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "DEBUG is off, so this may be a production audit log: seed_audit_log "
                "writes fake rows. Pass --force if this database is meant for them."
            )
        rows = options["rows"]
        verbose = options["verbosity"] >= 2
        step = max(rows // 10, 1)
        last_report = 0

        def progress(inserted: int) -> None:
            nonlocal last_report
            if verbose and (inserted - last_report >= step or inserted == rows):
                self.stdout.write(f"  {inserted:,} / {rows:,}")
                last_report = inserted

        try:
            inserted = audit_seed.seed_generations(
                rows=rows,
                days=options["days"],
                batch_size=options["batch_size"],
                seed=options["seed"],
                progress=progress,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["verbosity"] >= 1:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Inserted {inserted:,} synthetic generations over {options['days']} days."
                )
            )
