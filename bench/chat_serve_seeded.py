"""``manage.py serve`` on a pre-seeded embedded ``mem://`` database (chat benchmark, target 1).

A ``mem://`` database lives inside its server process, so the catch-up dataset is written in that
process before daphne starts: seed, write the thread ids to ``--info`` (JSON), then run the
unchanged ``serve`` command on the same SurrealDB client.

    python bench/chat_serve_seeded.py --port P --info FILE --hot 10000 [--noise 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--info", type=Path, required=True)
    parser.add_argument("--hot", type=int, default=10_000)
    parser.add_argument("--noise", type=int, default=5_000)
    parser.add_argument("--noise-each", type=int, default=10)
    args = parser.parse_args()
    sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gotong.settings")
    import django

    django.setup()
    import chat_seed
    from django.core.management import call_command

    from apps.core.db import get_db, run_sync
    from apps.core.db.migrations import migrate

    db = get_db()
    run_sync(migrate, db)
    started = time.perf_counter()
    info = run_sync(
        chat_seed.seed_catchup, db, hot=args.hot, noise_threads=args.noise, noise_each=args.noise_each,
        now=int(time.time() * 1000),
    )  # fmt: skip
    info["seed_seconds"] = round(time.perf_counter() - started, 2)
    info["rows"] = args.hot + args.noise * args.noise_each
    args.info.write_text(json.dumps(info))
    call_command("serve", port=args.port)


if __name__ == "__main__":
    main()
