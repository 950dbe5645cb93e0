"""Per-kind audit hooks: each domain compares its current rows and files with what the log recorded.

Why a registry: the transparency app must not import the domains (they import it to
append), yet ``transparency_audit`` has to ask each of them "does your row still say what
the leaf says?". Domains register at start-up (``AppConfig.ready``)::

    registry.register("evidence", rebuild=rebuild_evidence_entries, check_files=check_evidence_files)

``rebuild(entity_ids)`` returns, per id, the entry rebuilt from the CURRENT rows (``None``
when the row is gone); ``check_files(entries)`` gets the stored entries (each with
``"log_index"`` added) and returns problem lines such as
``"entry 7: stored file differs from its SHA-256"``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Rebuild = Callable[[list[str]], Awaitable[dict[str, dict | None]]]
CheckFiles = Callable[[list[dict]], Awaitable[list[str]]]


@dataclass(frozen=True)
class KindHooks:
    kind: str
    rebuild: Rebuild
    check_files: CheckFiles | None = None


_hooks: dict[str, KindHooks] = {}


def register(kind: str, rebuild: Rebuild, check_files: CheckFiles | None = None) -> None:
    """Register (or replace) the audit hooks of one entry kind."""
    if not kind:
        raise ValueError("kind must not be empty")
    _hooks[kind] = KindHooks(kind, rebuild, check_files)


def unregister(kind: str) -> None:
    _hooks.pop(kind, None)


def hooks(kind: str) -> KindHooks | None:
    return _hooks.get(kind)


def kinds() -> tuple[str, ...]:
    return tuple(_hooks)
