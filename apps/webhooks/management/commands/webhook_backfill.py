"""``manage.py webhook_backfill --file events.ndjson [--dry-run]``: load payloads (one per line) into the outbox.

Invalid lines are counted as failed, events whose ``event_id`` exists are
counted as duplicates (never re-inserted). Exit status 1 if any line failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.db import run_sync
from apps.webhooks import services

PROGRESS_EVERY = 100


class Command(BaseCommand):
    help = "Insert webhook payloads from an NDJSON file into the outbox as pending events."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--file", required=True, type=Path)
        parser.add_argument("--dry-run", action="store_true", help="validate and count, insert nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        result = run_sync(self._load, path, options["dry_run"])
        for error in result.errors[:50]:
            self.stderr.write(error)
        mode = " (dry run)" if options["dry_run"] else ""
        self.stdout.write(
            f"summary{mode}: inserted {result.inserted}, duplicates {result.duplicates}, failed {result.failed}"
        )
        if result.failed:
            raise CommandError(f"{result.failed} line(s) failed")

    async def _load(self, path: Path, dry_run: bool) -> services.BackfillResult:
        result = services.BackfillResult()
        with path.open(encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                await services.backfill_line(line, dry_run=dry_run, result=result, line_no=number)
                if number % PROGRESS_EVERY == 0:
                    self.stdout.write(
                        f"line {number}: inserted {result.inserted}, duplicates {result.duplicates}, "
                        f"failed {result.failed}"
                    )
        if not dry_run and result.inserted:
            await services._wake()
        return result
