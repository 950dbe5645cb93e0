"""Django's per-request hooks that have nothing to do here are disconnected at start-up (issue 14: about 33 us of
every request), and what they used to reset still behaves."""

from __future__ import annotations

from django.test import override_settings

from apps.core.asgi_handler import LoopASGIHandler, _closes_nothing
from tests.support.asgi_calls import asgi_call


def test_no_idle_hook_runs_when_a_request_finishes():
    from django.core import signals
    from django.core.cache import close_caches
    from django.core.handlers.base import reset_urlconf

    import gotong.asgi  # noqa: F401 - its start-up disconnects them

    sync_receivers, async_receivers = signals.request_finished._live_receivers(LoopASGIHandler)
    assert close_caches not in sync_receivers
    assert reset_urlconf not in sync_receivers
    assert async_receivers == []


def test_only_caches_whose_close_does_nothing_lose_the_close_hook():
    assert _closes_nothing("django.core.cache.backends.locmem.LocMemCache")
    assert _closes_nothing("django.core.cache.backends.dummy.DummyCache")
    assert not _closes_nothing("django.core.cache.backends.memcached.PyMemcacheCache")


def test_an_overridden_urlconf_is_followed_on_the_async_path_and_dropped_after():
    body = {"name": "ana", "count": 1}
    with override_settings(ROOT_URLCONF="tests.core.urls_for_tests"):
        status, answer = asgi_call("POST", "/v1/_test/echo", None, body)
        assert (status, answer) == (201, body)
    status, answer = asgi_call("POST", "/v1/_test/echo", None, body)
    assert status == 404, answer
