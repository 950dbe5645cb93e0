"""Verify that the database holds every table, field and index the migrations declare."""

from django.core.management.base import BaseCommand, CommandError

from apps.core.db import run_sync
from apps.core.db.migrations import check_schema


class Command(BaseCommand):
    help = "Check the SurrealDB schema against the .surql migrations; exit 1 on any problem."

    def handle(self, *args, **options) -> None:
        problems = run_sync(check_schema)
        if problems:
            for problem in problems:
                self.stderr.write(f"- {problem}")
            raise CommandError(f"{len(problems)} schema problem(s)")
        self.stdout.write("schema ok")
