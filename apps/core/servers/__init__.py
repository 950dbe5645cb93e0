"""The ASGI servers ``manage.py serve`` can run in-process, behind one function.

Why in-process instead of a server's own CLI: the embedded database can be opened by one process
only, so the server, the migrations applied first and the background loops (``apps.core.background``)
share one process and one SurrealDB client. Every server here gets the same lifecycle:

1. listen, then start the background tasks on the server's loop and report the bound addresses;
2. on SIGTERM/SIGINT: stop accepting, close every WebSocket with a close frame (uvicorn 1012 "service
   restart", daphne 1000: clients reconnect elsewhere), stop the background tasks, give in-flight HTTP
   requests up to ``drain_timeout`` seconds, close the SurrealDB client, return;
3. a second signal stops at once, without draining.

Which server is the default is decided by measurement (issue 14 point 6, docs/benchmarks.md); the
other stays selectable with ``ASGI_SERVER`` or ``serve --server``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

OnStarted = Callable[[list[tuple[str, int]]], None]
# The close code of a WebSocket closed for flooding frames (apps/chat/consumers.FrameBudget). A server stops
# reading such a socket at once: the close handshake would otherwise keep parsing its frames for seconds.
# Not 1008 (policy violation): autobahn, under daphne, sends only 1000 and 3000-4999 from a server.
TOO_MANY_FRAMES = 4429
# An ASGI scope extension of a WebSocket (uvicorn here; daphne has none): a synchronous ``send_text_now(text)
# -> bool`` that writes one text frame at once, without a task switch, or returns False ("not now": before the
# accept, after a close, or while the peer's buffer is full) and the application uses the ASGI ``send``
# instead. The chat fan-out writes each live frame through it (issue 14 point 5a).
SEND_TEXT_NOW = "gotong.websocket.send_text_now"


@dataclass(frozen=True)
class ServeOptions:
    host: str
    port: int
    drain_timeout: float
    on_started: OnStarted
    verbosity: int = 1


def run(server: str, application: Any, options: ServeOptions) -> list[str]:
    """Serve ``application`` with ``server`` until a signal stops it; return the listen failures (empty: served)."""
    if server == "uvicorn":
        from apps.core.servers.uvicorn_server import serve
    elif server == "daphne":
        from apps.core.servers.daphne_server import serve
    else:  # the config validates ASGI_SERVER, so only a caller's typo gets here
        raise ValueError(f"unknown ASGI server {server!r}")
    return serve(application, options)
