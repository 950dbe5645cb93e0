"""``ChatAuthMiddleware`` keeps nothing of the handshake while the socket lives (issue 14 point 2).

Its ``__call__`` frame stays alive as long as the socket (it awaits the consumer). It used to hold the parsed
header dict and the raw token, about 2 KiB per idle socket; the refusals themselves are tested on a live
server in test_realtime_server.py.
"""

from __future__ import annotations

import asyncio

from apps.chat.ws_auth import ChatAuthMiddleware


def test_the_middleware_frame_holds_no_header_or_token_while_the_socket_lives() -> None:
    raw = "not-a-valid-token-" + "x" * 40
    scope = {
        "type": "websocket",
        "path": "/ws/chat/t1",
        "query_string": b"",
        "headers": [(b"host", b"example.test"), (b"authorization", f"Bearer {raw}".encode())],
    }

    async def scenario() -> dict:
        inside, release = asyncio.Event(), asyncio.Event()
        seen: dict = {}

        async def consumer(inner_scope, receive, send) -> None:
            seen.update(principal=inner_scope["principal"], auth_error=inner_scope["auth_error"])
            inside.set()
            await release.wait()  # the socket's life

        async def receive() -> dict:
            return {"type": "websocket.connect"}

        async def send(message: dict) -> None:
            raise AssertionError(f"nothing is sent for a handshake that reaches the consumer: {message}")

        call = ChatAuthMiddleware(consumer)(scope, receive, send)
        task = asyncio.ensure_future(call)
        await asyncio.wait_for(inside.wait(), 10)
        frame_locals = call.cr_frame.f_locals
        release.set()
        await task
        seen["locals"] = {k: v for k, v in frame_locals.items() if k not in ("scope", "self", "receive", "send")}
        return seen

    seen = asyncio.run(scenario())
    assert seen["principal"] is None
    assert seen["auth_error"]
    held = [name for name, value in seen["locals"].items() if isinstance(value, (str, dict)) and raw in str(value)]
    assert held == [], f"the frame kept the token or the headers in {held}"
    assert "headers" not in seen["locals"]
