"""``manage.py webhook_replay --status dead_letter --limit N [--dry-run]``: put events back to ``pending``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.db import run_sync
from apps.core.errors import AppError
from apps.webhooks import services


class Command(BaseCommand):
    help = "Replay outbox events of one status (back to pending, attempts 0, same event_id and body)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--status", default="dead_letter", choices=services.REPLAYABLE)
        parser.add_argument("--limit", type=int, default=100)
        parser.add_argument("--dry-run", action="store_true", help="list what would be replayed, change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        if not 1 <= options["limit"] <= 100_000:
            raise CommandError("--limit must be between 1 and 100000")
        status, dry_run = options["status"], options["dry_run"]
        try:
            ids = run_sync(services.replay_status, status=status, limit=options["limit"], dry_run=dry_run)
        except AppError as exc:
            raise CommandError(f"replay failed: {exc}") from exc
        for index, event_id in enumerate(ids, 1):
            self.stdout.write(f"[{index}/{len(ids)}] {'would replay' if dry_run else 'replayed'} {event_id}")
        verb = "would replay" if dry_run else "replayed"
        self.stdout.write(f"summary: {verb} {len(ids)} event(s) with status {status}; failed 0")
