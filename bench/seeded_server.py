"""``manage.py serve`` on an embedded database seeded in the same process (the chat benchmark's servers).

A ``mem://`` database lives inside its server process, so the benchmark's data is written there before
daphne starts: Django is set up, migrations applied, ``seed`` runs on the process's SurrealDB client, its
result (plus ``seed_seconds``) goes to the ``info`` JSON file, then the unchanged ``serve`` command runs on
the same client. The file is written whole before the port listens (the benchmark reads it then).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def serve_after_seeding(port: int, info: Path, seed: Callable[[Any], Awaitable[dict[str, Any]]]) -> None:
    """``seed(db)`` returns what the benchmark needs to know (thread ids, tokens); it is awaited on ``db``."""
    sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gotong.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from apps.core.db import get_db, run_sync
    from apps.core.db.migrations import migrate

    db = get_db()
    run_sync(migrate, db)
    started = time.perf_counter()
    result = run_sync(seed, db)
    result["seed_seconds"] = round(time.perf_counter() - started, 2)
    partial = info.with_suffix(".tmp")
    partial.write_text(json.dumps(result))
    partial.replace(info)
    call_command("serve", port=port)
