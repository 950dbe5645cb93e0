"""Generate the transparency log's checkpoint signing key (docs/transparency.md).

Prints the private key for ``TRANSPARENCY_SIGNING_KEY`` and the public verifier key that members, auditors and
the reputation engine pin. Nothing is stored: where the secret goes is the operator's decision.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.transparency.signing import generate_private_key, parse_private_key

# What gotong/config.py accepts in TRANSPARENCY_ORIGIN / TRANSPARENCY_SIGNING_KEY: visible ASCII without "+".
_NAME_RE = re.compile(r"[!-*,-~]+")


class Command(BaseCommand):
    help = (
        "Generate an Ed25519 note key for the transparency log. Prints TRANSPARENCY_SIGNING_KEY=<private key> "
        "(keep it secret) and TRANSPARENCY_VERIFIER_KEY=<public key> (publish it; verifiers pin it)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--name",
            help="key name, which should equal the checkpoint origin (default: TRANSPARENCY_ORIGIN, "
            f"{settings.CONFIG.transparency_origin!r})",
        )

    def handle(self, *args, name: str | None, **options) -> None:
        name = name if name is not None else settings.CONFIG.transparency_origin
        if not _NAME_RE.fullmatch(name):
            raise CommandError(f"--name {name!r} must be visible ASCII without spaces or '+' (e.g. example.org/log)")
        try:
            signer = parse_private_key(generate_private_key(name))
        except ValueError as exc:
            raise CommandError(f"--name {name!r}: {exc}") from exc
        if name != settings.CONFIG.transparency_origin:
            self.stderr.write(
                f"note: key name {name!r} differs from TRANSPARENCY_ORIGIN={settings.CONFIG.transparency_origin!r}; "
                "set TRANSPARENCY_ORIGIN to the same value"
            )
        self.stdout.write(f"TRANSPARENCY_SIGNING_KEY={signer.private_key_text()}")
        self.stdout.write(f"TRANSPARENCY_VERIFIER_KEY={signer.verifier_key()}")
