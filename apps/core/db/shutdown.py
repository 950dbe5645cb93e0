"""Closing the engine and flushing spans before the process leaves with ``os._exit``.

Engine: environment notes, defect 3. Spans: ``os._exit`` skips the OpenTelemetry SDK's atexit flush, so the
batch span processor's last batch would be dropped at every exit; it is flushed here, after the engine is
closed (so the spans of the close itself are in it), with a short timeout.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def close_before_exit() -> None:
    """Close the process-wide client if one was opened, then flush spans. Safe to call any number of times."""
    from apps.core import tracing
    from apps.core.db import client

    if client._client is not None:
        try:
            client.run_sync(client.close_db)
        except Exception:
            log.warning("closing the database at exit failed", exc_info=True)
    tracing.flush(timeout_s=2.0)
