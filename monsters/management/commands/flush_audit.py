"""`manage.py flush_audit`: write the audit rows queued while the database was down.

Every process that queues a row also retries the queue by itself every couple of
seconds until it is empty (and writes the rows of processes that died before writing
theirs, once their intents are ORPHAN_SECONDS old); this command does both on demand,
intents of any age included (after an outage, or
from a schedule). Replays are idempotent: a row already written is not written again.
Exit status 0 when the queue is empty afterwards, 1 when the database still refuses.
"""

from __future__ import annotations

from typing import Any

import redis
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import Error as DatabaseError  # InterfaceError too

from monsters.audit import record as audit


class Command(BaseCommand):
    help = "Write the audit-log rows queued in Redis while PostgreSQL was unavailable."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="say how many rows wait; write nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            waiting = audit.queue_length()
            if options["dry_run"]:
                self.stdout.write(f"{waiting:,} audit rows wait in the queue")
                return
            # Long enough to outwait the lock of a flusher whose process has exited.
            # On demand: every intent too, however young (replays are idempotent).
            report = audit.flush_queue(wait=audit.lock_seconds() + 1, orphans_after=0)
        except DatabaseError as exc:
            raise CommandError(
                f"the database still cannot take the rows ({type(exc).__name__}); they stay queued"
            ) from None
        except redis.exceptions.LockError:
            raise CommandError(
                "another process is writing the queue right now; run this again when it is done"
            ) from None
        except (redis.RedisError, OSError) as exc:
            raise CommandError(
                f"the queue in Redis is unreachable ({type(exc).__name__})"
            ) from None
        if options["verbosity"] >= 1:
            self.stdout.write(
                f"wrote {report.written:,} queued audit rows "
                f"({report.replayed:,} were written before); {report.left:,} left",
                self.style.SUCCESS,
            )
