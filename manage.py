#!/usr/bin/env python
"""Django's command-line utility, with a clean exit around the embedded SurrealDB engine.

The embedded engine can panic while the interpreter shuts down (and, rarely,
abort with status 134) after all work is done. So the client is closed
explicitly and the process leaves with ``os._exit`` carrying the command's own
status, skipping the interpreter teardown where the panic happens. Because
``os._exit`` also skips the OpenTelemetry SDK's atexit flush, ``close_before_exit``
flushes the batched spans first (a short timeout; apps/core/tracing.flush).
"""

import os
import sys


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gotong.settings")
    from django.core.management import execute_from_command_line

    status = 0
    try:
        execute_from_command_line(sys.argv)
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        if not isinstance(exit_.code, int) and exit_.code is not None:
            print(exit_.code, file=sys.stderr)
    finally:
        from apps.core.db.shutdown import close_before_exit

        close_before_exit()
    return status


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
