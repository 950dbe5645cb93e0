"""The chat WebSocket consumer uses a server's ``SEND_TEXT_NOW`` for live frames (issue 14 point 5a).

tests/chat/test_streams.py tests the stream's direct writes and tests/core/test_uvicorn_protocols.py uvicorn's
``send_text_now``; this checks the wiring between them: the consumer hands the scope's extension to its stream.
"""

from __future__ import annotations

import json

from apps.accounts import services as accounts
from apps.chat import services
from apps.chat.hub import get_hub
from apps.core.servers import SEND_TEXT_NOW
from tests.chat.conftest import Api
from tests.support.asgi_calls import asgi_websocket
from tests.support.waiting import until


def test_a_live_message_goes_out_through_the_servers_direct_write(chat: Api):
    ana = chat.signup("ana")
    thread_id = chat.thread(ana)["thread_id"]
    written: list[dict] = []

    def send_text_now(text: str) -> bool:
        written.append(json.loads(text))
        return True

    async def send_one_and_wait() -> None:
        # The socket is accepted before its stream subscribes: a message sent earlier is not live for it.
        await until(lambda: any(s._parked for s in get_hub().sessions.get(thread_id, ())), 8, "a waiting stream")
        principal = await accounts.authenticate(ana.token, via="bearer")
        await services.send_message(principal, thread_id, body="live", attachments=[])
        await until(lambda: any(w["event_type"] == "message" for w in written), 8, "a frame through SEND_TEXT_NOW")

    sent = asgi_websocket(f"/v1/chat/threads/{thread_id}/messages/ws", ana.token, [],
                          extensions={SEND_TEXT_NOW: send_text_now}, during=send_one_and_wait)  # fmt: skip
    assert sent[0]["type"] == "websocket.accept"
    assert [w["seq"] for w in written if w["event_type"] == "message"] == [1]
    through_send = [json.loads(m["text"]) for m in sent if m["type"] == "websocket.send" and m.get("text")]
    assert [e for e in through_send if e["event_type"] == "message"] == [], "it also went through send"
