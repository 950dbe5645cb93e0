"""Apply the ordered .surql migrations, each once (checksums recorded in ``_migration``)."""

from django.core.management.base import BaseCommand, CommandError

from apps.core.db import run_sync
from apps.core.db.migrations import MigrationError, migrate


class Command(BaseCommand):
    help = "Apply pending SurrealQL migrations (apps/<app>/surql/NNNN_name.surql)."

    def handle(self, *args, **options) -> None:
        try:
            names = run_sync(migrate)
        except MigrationError as exc:
            raise CommandError(str(exc)) from exc
        if names:
            for name in names:
                self.stdout.write(f"applied {name}")
        else:
            self.stdout.write("no pending migrations")
