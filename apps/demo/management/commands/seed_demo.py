"""Fill a fresh database with demo users, threads, messages, contributions, evidence and vouches."""

from django.core.management.base import BaseCommand

from apps.core.db import run_sync
from apps.demo.seed import SeedResult, seed


def describe(result: SeedResult) -> str:
    if not result.created:
        return "demo data is already there (sign in with the accounts printed when it was seeded)"
    lines = [
        f"seeded {result.threads} threads, {result.messages} messages, {result.contributions} contributions, "
        f"{result.evidence} evidence, {result.vouches} vouches; for the moderators: {result.held} held message, "
        f"{result.reports} report, {result.appeals} appeal (/admin/moderation/queue/)",
        "sign in at /signin (staff also at /admin/):",
    ]
    lines += [f"  {a.role:<9} {a.email:<32} {a.password}" for a in result.accounts]
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Create demo users (an admin and a moderator among them) and a living community. Idempotent."

    def handle(self, *args, **options) -> None:
        self.stdout.write(describe(run_sync(seed)))
