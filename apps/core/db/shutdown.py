"""Closing the engine before the interpreter exits (environment notes, defect 3)."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def close_before_exit() -> None:
    """Close the process-wide client if one was opened. Safe to call any number of times."""
    from apps.core.db import client

    if client._client is None:
        return
    try:
        client.run_sync(client.close_db)
    except Exception:
        log.warning("closing the database at exit failed", exc_info=True)
