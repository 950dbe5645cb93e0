"""Garbage collection for a long-lived server with thousands of sockets (issue 14, point 2).

Why: CPython's full (generation 2) collection walks every container object the process holds and stops
the event loop while it does. With 5,000 idle WebSockets the server (on daphne) held about two million of
them (about 370 a socket) and did 18 full collections of 0.6-0.68 s in one benchmark run, each one a delivery
stall for every socket. On uvicorn an idle socket is 106 tracked objects, and a full collection with 5,000
of them still takes about 0.4 s (``bench/socket_memory.py``, 2026-12-01): what a full collection walks per
socket matters as much as how often one runs.

What the server does, once, after it has imported everything (``tune_for_server``, called by
``manage.py serve`` just before it listens; ``run_worker`` keeps Python's defaults):

1. ``gc.collect()`` then ``gc.freeze()`` (``GC_FREEZE``, default on). The start-up heap (Django, DRF, the
   URL conf, daphne: about 165,000 objects) leaves the collector's view for good. Collecting first
   matters: frozen garbage is never freed.
2. ``GC_THRESHOLDS``, default ``20000,10,10`` (CPython's: ``700,10,10``). Only the young threshold moves.
   A young collection then waits for 20,000 net container allocations instead of 700, so a request that
   is alive across its database awaits is rarely caught alive and promoted; a middle collection walks at
   most about 220,000 objects (20-45 ms here); a full one is considered after about 2.4 million net
   allocations (20,001 x 11 x 11), about the heap of 5,000 sockets, and CPython's own rule (objects
   promoted since the last one reach 25 % of the old generation) still applies on top. So cyclic garbage
   can at most about double the container heap before it is collected, like Go's ``GOGC=100``.

Chosen by measurement, ``python bench/gc_pauses.py`` (5,000 socket-like object graphs with a consumer
task and a queue each, 50 sends/s fanned out to 10 sockets, 5 reconnects/s; table in docs/benchmarks.md).
Against CPython's defaults, on this shared 2-core machine (collection times are CPU time):

- defaults: 10 full collections while the 5,000 sockets connect (2.5 s in all, up to 0.44 s each), then
  2 in the minute under load (0.65 and 0.83 s); delivery p95 108 ms, max 1.65 s;
- freeze alone: hardly better (12 and 2): the sockets are created after start-up, and they are most of
  what a full collection walks (delivery p95 33 ms, max 0.82 s);
- freeze + ``20000,10,10``: no full collection while connecting, one in the minute under load (0.55 s),
  young and middle pauses p95 20 ms, max 44 ms; delivery p95 36 ms. ``20000,10,25`` measured the same
  with 2.5 times the garbage bound;
- freeze + ``50000,20,100`` (the first candidate): no full collection in the run at all, but one is only
  considered after about 100 million net allocations. With 5 reconnects/s and no other traffic that is
  about 15 hours of closed sockets (cyclic garbage, about 45 KiB each) kept in memory: rejected.
- freezing again after every full collection: full collections of 10-20 ms, because the sockets leave the
  collector's view too. Rejected because a frozen object that later becomes cyclic garbage (a closed
  socket's consumer, protocol and transport point at each other) is never freed until ``gc.unfreeze()``:
  the benchmark's ``leaked`` column counts every socket closed during the run. Bounding that leak needs a
  periodic ``gc.unfreeze(); gc.collect()``, which is the very pause being avoided. (Frozen objects freed by
  reference counting are freed normally; only cycles leak.) Re-measured on the real server with
  ``python bench/socket_memory.py`` (2026-12-01): a closed uvicorn socket left 23 objects of cyclic garbage,
  and since 31c2072 none; but every API request still leaves 110-310 (DRF's view, request and serializer
  point at each other; a send 113, a message list 308, a 404 152). Freezing after a collection would freeze
  the requests in flight with it, and their cycles would leak, so it stays rejected.

``install_pause_metrics`` times every collection into ``gotong_gc_pause_seconds{generation}`` so the
pauses are visible in production (``/metrics``), not only in the benchmark.
"""

from __future__ import annotations

import gc
import logging
import time
from typing import TYPE_CHECKING, Any

from apps.core.metrics import gc_pause_seconds

if TYPE_CHECKING:
    from gotong.config import AppConfig

logger = logging.getLogger(__name__)

# One observer per generation, resolved once: ``labels()`` takes the metric's lock and allocates, which
# must never happen inside a collection's callback (a collection can start while that lock is held).
_by_generation = tuple(gc_pause_seconds.labels(generation=str(generation)) for generation in range(3))
_started = [0.0]  # perf_counter() of the collection in progress: collections never overlap (one GIL).


def _on_collection(phase: str, info: dict[str, Any]) -> None:
    """``gc.callbacks`` hook: a float subtraction and one histogram observation per collection."""
    if phase == "start":
        _started[0] = time.perf_counter()
    else:
        _by_generation[info["generation"]].observe(time.perf_counter() - _started[0])


def install_pause_metrics() -> None:
    """Time every collection of this process into ``gotong_gc_pause_seconds``. Calling it again is a no-op."""
    if _on_collection not in gc.callbacks:
        gc.callbacks.append(_on_collection)


def uninstall_pause_metrics() -> None:
    """Remove the hook (tests restore the process's gc state with it)."""
    while _on_collection in gc.callbacks:
        gc.callbacks.remove(_on_collection)


def apply(*, freeze: bool, thresholds: tuple[int, int, int] | None) -> None:
    """Collect, then freeze the surviving heap if asked, then set the thresholds (None: leave them)."""
    gc.collect()
    if freeze:
        gc.freeze()
    if thresholds is not None:
        gc.set_threshold(*thresholds)


def tune_for_server(config: AppConfig | None = None) -> None:
    """Once, after the server has imported everything: pause metrics, ``GC_FREEZE`` and ``GC_THRESHOLDS``.

    ``config`` defaults to ``settings.CONFIG``. A second call collects and freezes again, which only moves
    objects alive at that moment out of the collector's view (nothing that is garbage is frozen).
    """
    if config is None:
        from django.conf import settings

        config = settings.CONFIG
    install_pause_metrics()
    apply(freeze=config.gc_freeze, thresholds=config.gc_thresholds)
    logger.info("gc tuned: %d start-up objects frozen, thresholds %s", gc.get_freeze_count(), gc.get_threshold())
