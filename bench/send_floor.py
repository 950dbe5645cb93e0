"""The floor under a send's CPU: what the database calls of one send cost in-process (issue 14 point 3).

Issue 14 asks for <= 2 ms of server CPU per sent message. With the embedded engine, the engine's own work runs
in the server process, so this measures, on an embedded ``mem://`` database in this process and with no HTTP,
no socket and no other load, the CPU of each database call a send makes, split into the calling (event-loop)
thread and every other thread (the engine's native threads):

* ``RETURN 1``: the SDK's and the engine's fixed cost of one round trip;
* ``auth_state``: the one read of every authenticated request (``AccountsRepository.auth_state``);
* ``send``: the send's one transaction (``ChatRepository.send``: checks, next ``seq``, insert, row back);
* ``send_message``: the whole send service (rate limit, mentions, transaction, the event for the hub with no
  stream attached, the sender's view): what a send costs above the HTTP layer;
* ``POST .../send``: the API's send through the ASGI application (Django's handler, middleware, DRF, sign-in
  check, idempotency, the service) without a server: the difference to ``send_message`` is the request stack;
* ``POST .../send, refused``: the same request with an empty body, refused (400) by the input serializer: the
  request stack alone (middleware, DRF, the sign-in check from this process's cache, the error answer) with no
  service and no database call, the floor that Django and DRF put under any send.

Then, informative only, the send transaction again after dropping the full-text index of message bodies (the
search feature's cost per send). Not a timed test; figures depend on the machine's load (printed).

``--gap-ms 20`` idles the loop that long between calls, as the server does between the sends of target 2's 50
msg/s: the same work then costs more CPU per call (cold caches; a lone request shares no loop iteration), which is
why a send at 50 msg/s costs more than a saturated one.

    python bench/send_floor.py [--calls 2000] [--rounds 3] [--gap-ms 0] [--only post] [--uvloop] [--root CHECKOUT]

``--root /tmp/wt_base`` measures the app of another checkout (a ``git worktree`` of the commit before a change)
with this script, so an A/B runs the same measurement on both; alternate the two for a noisy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _process_cpu() -> float:
    t = os.times()
    return t.user + t.system


async def per_call(fn: Callable[[int], Awaitable[object]], calls: int, gap_s: float = 0.0) -> tuple[float, float]:
    """(ms of this thread's CPU, ms of the other threads' CPU) per call, ``calls`` sequential calls ``gap_s``
    apart (the idle loop between them costs next to no CPU)."""
    await fn(0)
    process0, thread0 = _process_cpu(), time.thread_time()
    for i in range(1, calls + 1):
        await fn(i)
        if gap_s:
            await asyncio.sleep(gap_s)
    process, thread = _process_cpu() - process0, time.thread_time() - thread0
    return thread * 1000 / calls, (process - thread) * 1000 / calls


STEPS = ("rt", "auth", "tx", "service", "post", "stack")


async def measure(calls: int, rounds: int, gap_s: float, only: set[str]) -> None:
    import chat_seed

    from apps.accounts import services as account_services
    from apps.accounts import tokens
    from apps.accounts.repository import AccountsRepository
    from apps.chat import services
    from apps.chat.repository import ChatRepository
    from apps.core.db import get_db
    from apps.core.ids import new_id, now_ms
    from tests.support.asgi_calls import request

    info = await chat_seed.seed_watchers(users=2, threads=1, password="bench password 123", tag="floor")
    watcher = info["watchers"][1]
    thread_id, claims = watcher["thread_id"], tokens.decode_access(watcher["token"])
    accounts, chat, db = AccountsRepository(), ChatRepository(), get_db()
    principal = await account_services.authenticate(watcher["token"], via="bearer")

    def row(i: int) -> dict:
        return {"thread_id": thread_id, "message_id": new_id(), "author_id": claims.user_id, "attachments": [],
                "body": f"the community garden needs water on plot {i}, who can help?", "request_id": new_id(),
                "correlation_id": new_id(), "created_at_ms": now_ms(), "edited_at_ms": None, "deleted_at_ms": None,
                "moderation_status": None, "mentions": []}  # fmt: skip

    async def repository_send(i: int) -> object:
        return await chat.send(thread_id, row(i), now_ms(), [])

    async def service_send(i: int) -> object:  # outside a request: fresh request ids per call
        return await services.send_message(principal, thread_id, body=f"garden plot {i} needs water", attachments=[])

    send_path = f"/v1/chat/threads/{thread_id}/messages/send"

    async def asgi_send(i: int) -> object:
        # As a server calls the application, minus the socket and HTTP parsing (the tests' in-process helper).
        status, answer = await request("POST", send_path, watcher["token"], {"body": f"garden plot {i} needs water"})
        if status != 201:
            raise SystemExit(f"the send through the ASGI app answered {status}: {answer[:300]!r}")
        return status

    async def asgi_refused(i: int) -> object:
        status, answer = await request("POST", send_path, watcher["token"], {})
        if status != 400:
            raise SystemExit(f"the empty send answered {status}, not 400: {answer[:300]!r}")
        return status

    steps: list[tuple[str, str, Callable[[int], Awaitable[object]]]] = [
        ("rt", "RETURN 1 (one round trip)", lambda i: db.query("RETURN 1;", operation="floor")),
        ("auth", "auth_state (every request's read)", lambda i: accounts.auth_state(claims.user_id, claims.family_id)),
        ("tx", "send transaction (ChatRepository.send)", repository_send),
        ("service", "send_message service (no HTTP)", service_send),
        ("post", "POST .../send through the ASGI app", asgi_send),
        ("stack", "POST .../send, refused (400): the stack", asgi_refused),
    ]
    print(f"load average {os.getloadavg()}; {calls} calls per figure, {rounds} rounds, {gap_s * 1000:g} ms apart; "
          "ms of CPU per call")  # fmt: skip
    print(f"{'call':<42} {'event-loop thread':>18} {'engine threads':>15} {'total':>8}")
    for key, name, fn in steps:
        if key not in only:
            continue
        figures = [await per_call(fn, calls, gap_s) for _ in range(rounds)]
        loop_ms = statistics.median(f[0] for f in figures)
        engine_ms = statistics.median(f[1] for f in figures)
        print(f"{name:<42} {loop_ms:>18.3f} {engine_ms:>15.3f} {loop_ms + engine_ms:>8.3f}")
    if "noindex" not in only:
        return
    await db.query("REMOVE INDEX chat_message_body_search ON chat_message;", operation="floor")
    figures = [await per_call(repository_send, calls, gap_s) for _ in range(rounds)]
    loop_ms, engine_ms = statistics.median(f[0] for f in figures), statistics.median(f[1] for f in figures)
    name = "send transaction, no full-text index"
    print(f"{name:<42} {loop_ms:>18.3f} {engine_ms:>15.3f} {loop_ms + engine_ms:>8.3f}  (informative)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gap-ms", type=float, default=0.0, help="idle time between two calls (20: as at 50 msg/s)")
    parser.add_argument(
        "--only",
        default=",".join((*STEPS, "noindex")),
        help=f"comma-separated rows: {', '.join(STEPS)}, noindex (the informative last row)",
    )
    parser.add_argument(
        "--uvloop", action="store_true", help="run on uvloop, as the server does (default: asyncio's loop)"
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=ROOT,
        help="the checkout whose app is measured, e.g. a git worktree of another commit for an A/B",
    )
    args = parser.parse_args()
    root = args.root.resolve()
    os.chdir(root)
    sys.path[:0] = [str(root), str(ROOT / "bench")]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gotong.settings")
    os.environ["SURREAL_ENDPOINT"] = "mem://"
    for limit in ("RATE_LIMIT_CHAT_SEND", "RATE_LIMIT_DEFAULT"):  # as in chat_bench: measure, never get a 429
        os.environ[limit] = "100000/1:100000"
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # an access-log line per request is not what is measured
    import django

    django.setup()
    from apps.core.db import get_db, run_sync
    from apps.core.db.migrations import migrate

    run_sync(migrate, get_db())
    print(f"app: {root}; loop: {'uvloop' if args.uvloop else 'asyncio'}")
    work = measure(args.calls, args.rounds, args.gap_ms / 1000, set(args.only.split(",")))
    if args.uvloop:
        import uvloop

        uvloop.run(work)
    else:
        asyncio.run(work)


if __name__ == "__main__":
    main()
