"""``manage.py serve`` on an embedded ``mem://`` database holding one account per idle socket (chat target 3).

A ``mem://`` database lives inside its server process, so the accounts, their sign-ins and memberships
are written in that process before daphne starts (``chat_seed.seed_watchers`` says how and why: one argon2
hash, rows and tokens from the accounts services). The watchers' access tokens and threads go to ``--info``
(JSON) for bench/chat_bench.py; then the unchanged ``serve`` command runs on the same SurrealDB client.

    python bench/chat_serve_users.py --port P --info FILE --users 5000 [--threads 20]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--info", type=Path, required=True)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--threads", type=int, default=20, help="idle threads the watchers are spread over")
    parser.add_argument("--password", default="bench password 123")
    args = parser.parse_args()
    sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gotong.settings")
    import django

    django.setup()
    import chat_seed
    from django.core.management import call_command

    from apps.core.db import get_db, run_sync
    from apps.core.db.migrations import migrate

    run_sync(migrate, get_db())
    started = time.perf_counter()
    info = run_sync(chat_seed.seed_watchers, users=args.users, threads=args.threads, password=args.password,
                    tag=f"b{uuid.uuid4().hex[:6]}")  # fmt: skip
    info["seed_seconds"] = round(time.perf_counter() - started, 2)
    tmp = args.info.with_suffix(".tmp")
    tmp.write_text(json.dumps(info))
    tmp.replace(args.info)  # the bench reads it once the port listens; never half-written
    call_command("serve", port=args.port)


if __name__ == "__main__":
    main()
