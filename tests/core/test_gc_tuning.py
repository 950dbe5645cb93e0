"""GC tuning for the long-lived server (apps/core/gc_tuning.py, issue 14 point 2).

Every test restores the process's collector (callbacks, thresholds, frozen objects) so the rest of the
suite runs with the collector it started with.
"""

from __future__ import annotations

import dataclasses
import gc
import subprocess
import sys
import weakref
from collections.abc import Iterator

import pytest
from django.test import override_settings
from prometheus_client import REGISTRY

from apps.core import gc_tuning
from gotong.config import AppConfig, ConfigError, load_config
from tests.conftest import ROOT


@pytest.fixture
def gc_state() -> Iterator[None]:
    """Starts unfrozen with the hook removed; puts back the thresholds, hooks, freeze and enabled state found."""
    thresholds, callbacks, was_frozen = gc.get_threshold(), list(gc.callbacks), gc.get_freeze_count() > 0
    was_enabled = gc.isenabled()
    gc.unfreeze()
    gc_tuning.uninstall_pause_metrics()
    yield
    gc_tuning.apply(freeze=False, thresholds=None, refreeze_after_ms=0)
    gc.unfreeze()
    if was_frozen:
        gc.freeze()
    gc.set_threshold(*thresholds)
    gc.callbacks[:] = callbacks
    if was_enabled:
        gc.enable()


def _full_collections() -> tuple[float, float]:
    labels = {"generation": "2"}
    count = REGISTRY.get_sample_value("gotong_gc_pause_seconds_count", labels) or 0.0
    return count, REGISTRY.get_sample_value("gotong_gc_pause_seconds_sum", labels) or 0.0


def test_the_pause_histogram_observes_a_forced_full_collection(gc_state):
    gc_tuning.install_pause_metrics()
    gc_tuning.install_pause_metrics()
    assert gc.callbacks.count(gc_tuning._on_collection) == 1  # idempotent
    count, total = _full_collections()
    gc.collect()
    after_count, after_total = _full_collections()
    assert after_count >= count + 1
    assert after_total > total


def test_without_the_hook_nothing_is_observed(gc_state):
    count, _ = _full_collections()
    gc.collect()
    assert _full_collections()[0] == count


def test_tune_for_server_collects_then_freezes_and_sets_the_thresholds(gc_state):
    ref = _cycle()
    gc_tuning.tune_for_server(dataclasses.replace(AppConfig(), gc_freeze=True, gc_thresholds=(12_345, 17, 42)))
    assert ref() is None  # collected first: garbage that were frozen would never be freed
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (12_345, 17, 42)
    assert gc_tuning._on_collection in gc.callbacks


def test_tune_for_server_reads_the_settings_and_honours_gc_freeze_false(gc_state, settings):
    with override_settings(CONFIG=dataclasses.replace(settings.CONFIG, gc_freeze=False, gc_thresholds=(900, 11, 12))):
        gc_tuning.tune_for_server()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == (900, 11, 12)


def test_the_refreeze_is_armed_for_uvicorn_only(gc_state):
    """daphne's connections end as reference cycles, so freezing them would leak every socket that later closes."""
    config = dataclasses.replace(AppConfig(), gc_freeze=True, gc_refreeze_after_ms=40)
    gc_tuning.tune_for_server(config, server="daphne")
    assert gc_tuning._refreeze_after[0] == 0
    gc_tuning.tune_for_server(config, server="uvicorn")
    assert gc_tuning._refreeze_after[0] == 0.04


def test_metrics_endpoint_shows_the_pauses_and_the_frozen_count(gc_state, api):
    gc_tuning.install_pause_metrics()
    gc.collect()
    text = api.get("/metrics").content.decode()
    assert "# TYPE gotong_gc_pause_seconds histogram" in text
    assert 'gotong_gc_pause_seconds_count{generation="2"}' in text
    assert 'gotong_gc_pause_seconds_bucket{generation="2",le="0.0001"}' in text
    assert "gotong_gc_frozen_objects 0.0" in text


def _refreezes() -> float:
    return REGISTRY.get_sample_value("gotong_gc_refreezes_total") or 0.0


def _collected() -> float:
    labels = [{"generation": str(generation)} for generation in range(3)]
    return sum(REGISTRY.get_sample_value("gotong_gc_collected_objects_total", one) or 0.0 for one in labels)


def _lists(count: int) -> list[list[int]]:
    """``count`` tracked objects, made with automatic collections off so that only the test's own run."""
    gc.disable()
    return [[i] for i in range(count)]


class _Cyclic:
    pass


def _cycle() -> weakref.ref:
    """A cycle nothing refers to (garbage only a collection frees); a weak reference to it."""
    garbage = _Cyclic()
    garbage.me = garbage
    return weakref.ref(garbage)


def test_a_slow_full_collection_freezes_what_survived_it_after_collecting(gc_state):
    gc_tuning.install_pause_metrics()
    gc_tuning.apply(freeze=True, thresholds=None, refreeze_after_ms=5)
    frozen, refreezes = gc.get_freeze_count(), _refreezes()
    # A full collection walks these: well over 5 ms (about 35 here). The follow-up walks next to nothing (about
    # 2 us), far under 5 ms even on a busy machine, so it does not re-freeze in turn.
    survivors = _lists(300_000)
    garbage = _cycle()
    gc.collect()
    assert garbage() is None  # collected first: the freeze only takes what survived
    assert gc.get_freeze_count() >= frozen + len(survivors)
    assert _refreezes() == refreezes + 1


def test_a_refreeze_is_followed_by_a_full_collection_on_a_helper_thread(gc_state):
    """CPython's 25 % rule counts from what the last full collection left; the follow-up resets it after a freeze."""
    gc_tuning.install_pause_metrics()
    gc_tuning.apply(freeze=True, thresholds=None, refreeze_after_ms=5)
    requested, refreezes = gc_tuning._recollector.requested, _refreezes()
    full_count = _full_collections()[0]
    survivors = _lists(300_000)
    gc.collect()
    assert _refreezes() == refreezes + 1
    assert gc_tuning._recollector.requested == requested + 1
    assert gc_tuning._recollector.wait_until_served(timeout=30), "no follow-up collection"
    assert _full_collections()[0] >= full_count + 2  # ours, then the helper thread's
    assert gc.get_freeze_count() >= len(survivors)


def test_a_short_or_partial_collection_freezes_nothing(gc_state):
    gc_tuning.install_pause_metrics()
    gc_tuning.apply(freeze=True, thresholds=None, refreeze_after_ms=60_000)  # no full collection is that slow
    frozen = gc.get_freeze_count()
    survivors = _lists(300_000)
    gc.collect()
    assert gc.get_freeze_count() == frozen
    gc_tuning.apply(freeze=True, thresholds=None, refreeze_after_ms=5)
    frozen = gc.get_freeze_count()
    more = _lists(300_000)
    gc.collect(1)  # a middle collection, however slow, freezes nothing
    assert gc.get_freeze_count() == frozen
    refreezes = _refreezes()
    for refreeze_after_ms, freeze in ((0, True), (1, False)):  # 0: never; GC_FREEZE=false: nothing is frozen
        gc.unfreeze()
        gc_tuning.apply(freeze=freeze, thresholds=None, refreeze_after_ms=refreeze_after_ms)
        frozen = gc.get_freeze_count()
        gc.collect()
        assert gc.get_freeze_count() == frozen
    assert _refreezes() == refreezes
    assert len(survivors) + len(more) == 600_000


def test_the_cyclic_garbage_a_collection_finds_is_counted(gc_state):
    gc_tuning.install_pause_metrics()
    gc.collect()
    before = _collected()
    gc.disable()
    refs = [_cycle() for _ in range(1_000)]
    gc.collect()
    assert all(ref() is None for ref in refs)
    assert _collected() >= before + 1_000  # each cycle is at least the object


def test_gc_settings_default_to_freeze_the_measured_thresholds_and_a_50_ms_refreeze():
    config = load_config({})
    assert config.gc_freeze is True
    assert config.gc_thresholds == (20_000, 10, 10)
    assert config.gc_refreeze_after_ms == 50
    chosen = load_config({"GC_THRESHOLDS": " 700, 10,10 ", "GC_FREEZE": "false", "GC_REFREEZE_AFTER_MS": "0"})
    assert (chosen.gc_thresholds, chosen.gc_freeze, chosen.gc_refreeze_after_ms) == ((700, 10, 10), False, 0)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"GC_THRESHOLDS": "0,10,10"}, "GC_THRESHOLDS"),  # 0 turns automatic collection off
        ({"GC_THRESHOLDS": "700,10"}, "GC_THRESHOLDS"),
        ({"GC_THRESHOLDS": "700,10,10,10"}, "GC_THRESHOLDS"),
        ({"GC_THRESHOLDS": "lots,10,10"}, "GC_THRESHOLDS"),
        ({"GC_THRESHOLDS": "700,-1,10"}, "GC_THRESHOLDS"),
        ({"GC_THRESHOLDS": ""}, "GC_THRESHOLDS"),
        ({"GC_FREEZE": "sometimes"}, "GC_FREEZE"),
        ({"GC_REFREEZE_AFTER_MS": "-1"}, "GC_REFREEZE_AFTER_MS"),
        ({"GC_REFREEZE_AFTER_MS": "fast"}, "GC_REFREEZE_AFTER_MS"),
    ],
)
def test_malformed_gc_values_stop_start_up_naming_the_variable(env, named):
    with pytest.raises(ConfigError, match=named):
        load_config(env)


def test_django_refuses_to_start_with_invalid_gc_thresholds():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "APP_ENV": "test", "GC_THRESHOLDS": "0,0,0"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "GC_THRESHOLDS" in result.stderr


def test_the_real_server_is_tuned_before_it_listens(live_server_factory):
    """``manage.py serve`` freezes its start-up heap, applies the thresholds and times its collections."""
    import httpx

    server = live_server_factory(GC_THRESHOLDS="30000,10,10")
    text = httpx.get(f"{server.url}/metrics", timeout=30).text
    frozen = next(line for line in text.splitlines() if line.startswith("gotong_gc_frozen_objects "))
    assert float(frozen.split()[1]) > 10_000, frozen
    tuned = [line for line in server.log().splitlines() if "gc tuned" in line]
    assert tuned, server.log()[-2000:]
    assert "(30000, 10, 10)" in tuned[0], tuned
    assert "re-freeze after a 50 ms full collection" in tuned[0], tuned
