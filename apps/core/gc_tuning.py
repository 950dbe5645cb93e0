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
  collector's view too. But a frozen object that later becomes cyclic garbage is never freed until
  ``gc.unfreeze()``, and in the model (and in the real server until 31c2072 and 2e63983) a closed socket was a
  cycle: the benchmark's ``leaked`` column counts every socket closed during the run.

3. So the server re-freezes (``GC_REFREEZE_AFTER_MS``, default 50; 0: never; on uvicorn only, the default
   server) only once the things that end leave no cycle behind, which is now the case and tested
   (``tests/core/test_no_cyclic_garbage.py``, ``tests/core/test_uvicorn_protocols.py``):
   - a closed WebSocket: none (31c2072, 2e63983, e11fac6: uvicorn's HTTP protocol after the upgrade;
     ``bench/socket_memory.py``); under daphne about 67 objects each, hence no re-freeze there;
   - an API request, including its errors (400, 401, 404, 405): none (``apps/core/api_view.APIView._release``
     ``apps.core.views.not_found`` and ``LoopASGIHandler.handle``); before, 74-227 objects each in-process (DRF's
     view, request, parser context and rendered response pointing at each other, asgiref's re-raised 404)
     and 107 per send on the real server (the handler's re-raised ``RequestAborted``);
   - a page rendered from a Django template: none (``apps.core.template_backend``; before, about 40 objects:
     the context's ``ContextDict`` layers point back at it).
   A full collection that paused the process for at least that long froze what survived it: the sockets, the
   caches, and whatever was in flight. A second full collection follows at once on a helper thread
   (``_Recollector``), which walks next to nothing and resets CPython's 25 % rule to what is left unfrozen.
   So later full collections walk only what came after the last one, not the sockets frozen before. What
   still leaks, and only when it is in flight at such a moment (a handful of times while thousands of
   sockets connect): anything not listed above that ends as a cycle.
   ``gotong_gc_collected_objects_total`` shows how much cyclic garbage the server makes: near 0 per
   request and per socket is what keeps this safe.
   Measured (``bench/chat_bench.py --targets 3``, docs/benchmarks.md "fifth pass"): with no cyclic garbage
   and the default thresholds no full collection comes at all while 5,000 sockets connect and take load;
   with CPython's thresholds as a stress, the longest full collection went from <= 500 ms to <= 100-250 ms.

``install_pause_metrics`` times every collection into ``gotong_gc_pause_seconds{generation}`` so the
pauses are visible in production (``/metrics``), not only in the benchmark.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from apps.core.metrics import gc_collected_objects, gc_pause_seconds, gc_refreezes

if TYPE_CHECKING:
    from gotong.config import AppConfig

logger = logging.getLogger(__name__)

# One child per generation, resolved once: ``labels()`` takes the metric's lock and allocates, which
# must never happen inside a collection's callback (a collection can start while that lock is held).
_by_generation = tuple(gc_pause_seconds.labels(generation=str(generation)) for generation in range(3))
_collected_by_generation = tuple(gc_collected_objects.labels(generation=str(generation)) for generation in range(3))
_started = [0.0]  # perf_counter() of the collection in progress: collections never overlap (one GIL).
_refreeze_after = [0.0]  # seconds a full collection must pause for what survived it to be frozen; 0: never
_full_collections_done = [0]  # full collections seen by the hook


def _on_collection(phase: str, info: dict[str, Any]) -> None:
    """``gc.callbacks`` hook: times the collection, counts the garbage it found, re-freezes after a slow full one.

    ``gc.freeze()`` here runs after the collection has finished, on the thread that triggered it, with the GIL:
    it only moves the generations' lists into the permanent one.
    """
    if phase == "start":
        _started[0] = time.perf_counter()
        return
    generation, paused = info["generation"], time.perf_counter() - _started[0]
    _by_generation[generation].observe(paused)
    if generation == 2:
        _full_collections_done[0] += 1
    if info["collected"]:
        _collected_by_generation[generation].inc(info["collected"])
    if generation == 2 and _refreeze_after[0] and paused >= _refreeze_after[0]:
        gc.freeze()
        gc_refreezes.inc()
        _recollector.wake()


class _Recollector:
    """A daemon thread that runs one full collection each time it is woken, right after a re-freeze.

    Why: CPython starts a full collection once the objects promoted since the last one reach 25 % of what that
    one left in the old generation (``long_lived_total``), and a freeze does not lower that count. After a
    re-freeze with 5,000 sockets (about 540,000 objects) the next full collection would wait for about 135,000
    new long-lived objects and then walk them all at once. A full collection right after the freeze walks
    next to nothing and sets the count to what is left unfrozen, so the next one can come as soon as the
    thresholds allow and walks only what came since. That bound is what the thresholds let accumulate
    between two full collections (about 2.4 million net allocations at the default, 85,000 at CPython's), not
    the socket count; with CPython's thresholds as a stress the longest measured was <= 100-250 ms.

    Woken through a pipe: a collection's callback must not take a Python lock (it can run while any thread
    holds one). A collection cannot start another from its callback, hence the thread.
    """

    def __init__(self) -> None:
        self._wake_r, self._wake_w = -1, -1
        self._ran = threading.Condition()  # taken on the helper thread only, never in a callback
        self.requested = 0  # wake-ups asked for (counted in the callback, with the GIL held)
        self.served = 0  # the ``requested`` count the last finished follow-up collection started after

    def start(self) -> None:
        """Start the thread once (later calls do nothing)."""
        if self._wake_w >= 0:
            return
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        threading.Thread(target=self._run, name="gc-recollect", daemon=True).start()

    def wake(self) -> None:
        """Ask for one full collection soon; a wake-up already pending covers this one."""
        if self._wake_w >= 0:
            self.requested += 1
            with contextlib.suppress(BlockingIOError):
                os.write(self._wake_w, b"\0")

    def wait_until_served(self, timeout: float) -> bool:
        """Whether a follow-up collection that started after every wake-up asked so far ends within ``timeout`` s."""
        wanted = self.requested
        with self._ran:
            return self._ran.wait_for(lambda: self.served >= wanted, timeout)

    def _run(self) -> None:
        while True:
            os.read(self._wake_r, 4096)  # every byte written so far: one collection serves them all
            asked = self.requested
            # The wake-up comes from inside a collection (``os.write`` lets this thread run), and ``gc.collect()``
            # does nothing while one is in progress: try again until one has run, for at most about a second.
            for _ in range(1000):
                done = _full_collections_done[0]
                gc.collect()
                if _full_collections_done[0] != done or _on_collection not in gc.callbacks:
                    break
                time.sleep(0.001)
            with self._ran:
                self.served = asked
                self._ran.notify_all()


_recollector = _Recollector()


def install_pause_metrics() -> None:
    """Time every collection of this process into ``gotong_gc_pause_seconds``. Calling it again is a no-op."""
    if _on_collection not in gc.callbacks:
        gc.callbacks.append(_on_collection)


def uninstall_pause_metrics() -> None:
    """Remove the hook (tests restore the process's gc state with it)."""
    while _on_collection in gc.callbacks:
        gc.callbacks.remove(_on_collection)


def apply(*, freeze: bool, thresholds: tuple[int, int, int] | None, refreeze_after_ms: int = 0) -> None:
    """Collect, then freeze the surviving heap if asked, then set the thresholds (None: leave them) and the
    re-freeze pause (0: never). Without ``freeze`` nothing is ever frozen; the re-freeze acts only while the
    hook (``install_pause_metrics``) is installed."""
    _refreeze_after[0] = 0.0
    gc.collect()
    if freeze:
        gc.freeze()
        gc.collect()  # walks next to nothing; CPython's 25 % rule now counts from what is left (``_Recollector``)
    if thresholds is not None:
        gc.set_threshold(*thresholds)
    _refreeze_after[0] = refreeze_after_ms / 1000 if freeze else 0.0
    if _refreeze_after[0]:
        _recollector.start()


# The ASGI servers whose connections end without reference cycles (measured; tests/core/test_uvicorn_protocols.py).
# daphne's do not (Twisted's channel, request and deferreds: about 67 objects per WebSocket), so a re-freeze
# under daphne would leak every frozen socket that later closes: it is not done there.
CYCLE_FREE_SERVERS = frozenset({"uvicorn"})


def tune_for_server(config: AppConfig | None = None, server: str = "uvicorn") -> None:
    """Once, after the server has imported everything: pause metrics, ``GC_FREEZE``, ``GC_THRESHOLDS`` and
    ``GC_REFREEZE_AFTER_MS`` (only for a server in ``CYCLE_FREE_SERVERS``).

    ``config`` defaults to ``settings.CONFIG``. A second call collects and freezes again, which only moves
    objects alive at that moment out of the collector's view (nothing that is garbage is frozen).
    """
    if config is None:
        from django.conf import settings

        config = settings.CONFIG
    refreeze_after_ms = config.gc_refreeze_after_ms if server in CYCLE_FREE_SERVERS else 0
    install_pause_metrics()
    apply(freeze=config.gc_freeze, thresholds=config.gc_thresholds, refreeze_after_ms=refreeze_after_ms)
    logger.info(
        "gc tuned: %d start-up objects frozen, thresholds %s, %s",
        gc.get_freeze_count(),
        gc.get_threshold(),
        f"re-freeze after a {refreeze_after_ms} ms full collection"
        if refreeze_after_ms and config.gc_freeze
        else f"no re-freeze (GC_FREEZE={config.gc_freeze}, GC_REFREEZE_AFTER_MS={config.gc_refreeze_after_ms}, "
        f"server {server})",
    )
