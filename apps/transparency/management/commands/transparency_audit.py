"""``manage.py transparency_audit``: recompute the transparency log from its stored leaves (apps/transparency/audit.py).

Prints one line per problem (the first one marked), then a summary; exits 1 when anything
does not hold, 0 otherwise.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.core.db import run_sync
from apps.core.errors import AppError
from apps.transparency.audit import run_audit


class Command(BaseCommand):
    help = "Check every transparency log leaf, stored tree node, checkpoint and registered domain row."

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        try:
            report = run_sync(run_audit)
        except AppError as exc:
            raise CommandError(f"audit failed: {exc}") from exc
        for number, line in enumerate(report.lines()):
            self.stdout.write(f"FIRST PROBLEM: {line}" if number == 0 else f"problem: {line}")
        self.stdout.write(f"{report.summary()} ({time.monotonic() - started:.1f} s)")
        self.stdout.flush()
        if not report.ok:
            sys.exit(1)
