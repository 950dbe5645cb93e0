"""Renaming of bound variables, for merging several statements' texts into one query."""

from __future__ import annotations

import re
from typing import Any

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def prefix_params(sql: str, variables: dict[str, Any], prefix: str) -> tuple[str, dict[str, Any]]:
    """Rename ``$name`` to ``$<prefix>name`` for the given variables (unit-of-work merging, group commit)."""
    names = set(variables)
    renamed = _PARAM.sub(lambda m: f"${prefix}{m.group(1)}" if m.group(1) in names else m.group(0), sql)
    return renamed, {f"{prefix}{k}": v for k, v in variables.items()}


# Parameters the engine sets itself: never renamed.
ENGINE_PARAMS = frozenset(
    {"access", "after", "auth", "before", "event", "input", "parent", "reference", "session", "this", "token", "value"}
)


def isolate_params(sql: str, variables: dict[str, Any], prefix: str) -> tuple[str, dict[str, Any]]:
    """Rename every parameter of ``sql`` (bound, ``LET`` or closure) to ``$<prefix>name``, except the engine's own.

    Why every one: a top-level ``LET`` outlives its transaction within one query text, so two transactions of a
    group commit must not share even the names they define themselves.
    """
    renamed = _PARAM.sub(lambda m: m.group(0) if m.group(1) in ENGINE_PARAMS else f"${prefix}{m.group(1)}", sql)
    return renamed, {f"{prefix}{k}": v for k, v in variables.items()}
