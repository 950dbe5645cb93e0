"""``manage.py serve`` on an embedded ``mem://`` database holding one account per idle socket (chat target 3).

The accounts, their sign-ins and memberships are written in the server process before it serves
(``seeded_server``; ``chat_seed.seed_watchers`` says how and why: one argon2 hash, rows and tokens from the
accounts services). The watchers' access tokens and threads go to ``--info`` (JSON) for bench/chat_bench.py.

    python bench/chat_serve_users.py --port P --info FILE --users 5000 [--threads 20]
"""

from __future__ import annotations

import argparse
import uuid
from pathlib import Path

from seeded_server import serve_after_seeding  # bench/ is on sys.path (the script's own folder)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--info", type=Path, required=True)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--threads", type=int, default=20, help="idle threads the watchers are spread over")
    parser.add_argument("--password", default="bench password 123")
    args = parser.parse_args()

    async def seed(_db):
        import chat_seed

        tag = f"b{uuid.uuid4().hex[:6]}"
        return await chat_seed.seed_watchers(users=args.users, threads=args.threads, password=args.password, tag=tag)

    serve_after_seeding(args.port, args.info, seed)


if __name__ == "__main__":
    main()
