"""``manage.py serve`` on a pre-seeded embedded ``mem://`` database (chat benchmark, target 1).

The catch-up dataset is written in the server process before it serves (``seeded_server``); the thread ids
go to ``--info`` (JSON).

    python bench/chat_serve_seeded.py --port P --info FILE --hot 10000 [--noise 5000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from seeded_server import serve_after_seeding  # bench/ is on sys.path (the script's own folder)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--info", type=Path, required=True)
    parser.add_argument("--hot", type=int, default=10_000)
    parser.add_argument("--noise", type=int, default=5_000)
    parser.add_argument("--noise-each", type=int, default=10)
    args = parser.parse_args()

    async def seed(db):
        import chat_seed

        info = await chat_seed.seed_catchup(
            db, hot=args.hot, noise_threads=args.noise, noise_each=args.noise_each, now=int(time.time() * 1000)
        )
        return {**info, "rows": args.hot + args.noise * args.noise_each}

    serve_after_seeding(args.port, args.info, seed)


if __name__ == "__main__":
    main()
