"""The sign-in state cache (apps/accounts/auth_cache.py): fewer reads, and still "rejected within one second".

The unit tests drive the table with a stepped clock; the service tests go through ``authenticate`` and the API
and count the ``auth_state`` reads the database actually answered.
"""

from __future__ import annotations

import pytest
from django.test import Client

from apps.accounts import auth_cache, services
from apps.accounts.auth_cache import AuthStateCache
from apps.accounts.repository import AccountsRepository
from apps.accounts.staff import set_role
from apps.core.db import get_db, run_sync
from apps.core.errors import Unauthorized
from apps.core.ids import now_ms
from tests.accounts.conftest import bearer
from tests.support.db_spy import spy_operations

STATE = {"user": {"user_id": "u1", "enabled": True}, "family": {"user_id": "u1", "revoked": False}}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# -- the table ---------------------------------------------------------------------------------------------------


def test_a_state_is_kept_for_the_ttl_and_no_longer():
    clock = Clock()
    cache = AuthStateCache(500, clock=clock)
    cache.put("u1", "f1", STATE, cache.generation)
    clock.now += 0.499
    assert cache.get("u1", "f1") is STATE
    assert cache.get("u1", "f2") is None, "another sign-in of the same user is its own entry"
    clock.now += 0.001
    assert cache.get("u1", "f1") is None


def test_forget_drops_a_sign_in_a_family_or_every_sign_in_of_a_user():
    cache = AuthStateCache(500, clock=Clock())
    for user, family in (("u1", "f1"), ("u1", "f2"), ("u2", "f3"), ("u2", "f4")):
        cache.put(user, family, STATE, cache.generation)
    cache.forget("u1", "f1")
    assert (cache.get("u1", "f1"), cache.get("u1", "f2") is STATE) == (None, True)
    cache.forget("u1")
    assert cache.get("u1", "f2") is None
    cache.forget_family("f3")
    assert (cache.get("u2", "f3"), cache.get("u2", "f4") is STATE) == (None, True)


def test_a_read_that_began_before_a_forget_is_not_stored():
    """A request that read the state, then lost the race to a logout, must not put the old state back."""
    cache = AuthStateCache(500, clock=Clock())
    read_began = cache.generation
    cache.forget("u1", "f1")  # the logout commits while the read is in flight
    cache.put("u1", "f1", STATE, read_began)
    assert cache.get("u1", "f1") is None
    cache.put("u1", "f1", STATE, cache.generation)  # a read begun after it is stored
    assert cache.get("u1", "f1") is STATE


def test_expired_entries_leave_and_the_table_is_bounded():
    clock = Clock()
    cache = AuthStateCache(500, max_entries=3, clock=clock)
    for user in ("old1", "old2"):
        cache.put(user, "f", STATE, cache.generation)
    clock.now += 0.4
    cache.put("old1", "f", STATE, cache.generation)  # stored again: it expires later than "old2" now
    clock.now += 0.1  # "old2" has expired
    cache.put("a", "f", STATE, cache.generation)
    assert list(cache._entries) == [("old1", "f"), ("a", "f")], "the expired entry went with the next put"
    clock.now += 0.5  # both expired: a sign-in's state does not outlive the TTL by more than the next put
    cache.put("b", "f", STATE, cache.generation)
    assert list(cache._entries) == [("b", "f")]
    for user in ("c", "d", "e"):  # all live and the table full: the oldest goes
        cache.put(user, "f", STATE, cache.generation)
    assert list(cache._entries) == [("c", "f"), ("d", "f"), ("e", "f")]


def test_a_ttl_of_zero_keeps_nothing():
    cache = AuthStateCache(0, clock=Clock())
    cache.put("u1", "f1", STATE, cache.generation)
    assert cache.get("u1", "f1") is None
    assert len(cache) == 0


def test_the_setting_may_not_exceed_the_specs_second():
    from gotong.config import ConfigError, load_config

    assert load_config({"AUTH_STATE_CACHE_MS": "900"}).auth_state_cache_ms == 900
    assert load_config({"AUTH_STATE_CACHE_MS": "0"}).auth_state_cache_ms == 0
    with pytest.raises(ConfigError, match="AUTH_STATE_CACHE_MS"):
        load_config({"AUTH_STATE_CACHE_MS": "1000"})


# -- through authenticate and the API ------------------------------------------------------------------------------


@pytest.fixture
def auth_reads(monkeypatch) -> list[str]:
    """Every ``auth_state`` read the database answered from now on; the process's cache starts empty."""
    auth_cache.shared().clear()
    return spy_operations(monkeypatch, "query", only="auth_state")


@pytest.fixture
def stepped_clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(auth_cache.shared(), "_clock", clock)
    return clock


def test_requests_of_one_sign_in_share_one_read_until_it_expires(api: Client, signup, auth_reads, stepped_clock):
    token = signup()["access_token"]
    for _ in range(3):
        assert api.get("/v1/auth/me", **bearer(token)).status_code == 200
    assert auth_reads == ["auth_state"]
    stepped_clock.now += 0.5
    assert api.get("/v1/auth/me", **bearer(token)).status_code == 200
    assert auth_reads == ["auth_state"] * 2


def test_logout_is_refused_at_once_in_this_process(api: Client, signup, auth_reads):
    token = signup()["access_token"]
    assert api.get("/v1/auth/me", **bearer(token)).status_code == 200
    assert api.post("/v1/auth/logout", **bearer(token)).status_code == 204
    assert auth_reads == ["auth_state"], "the sign-in was cached when it was revoked"
    answer = api.get("/v1/auth/me", **bearer(token))
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"


def test_refusals_are_never_kept(api: Client, signup, auth_reads):
    body = signup()
    run_sync(AccountsRepository().set_user_fields, body["user_id"], {"enabled": False})
    assert api.get("/v1/auth/me", **bearer(body["access_token"])).status_code == 401
    run_sync(AccountsRepository().set_user_fields, body["user_id"], {"enabled": True})
    assert api.get("/v1/auth/me", **bearer(body["access_token"])).status_code == 200, "re-enabled: works at once"
    assert auth_reads == ["auth_state"] * 2


def test_a_role_change_applies_to_the_next_request_in_this_process(signup, auth_reads):
    """The principal's role (what every permission check reads) comes from the cached state: a role change
    made here drops it. (``/v1/auth/me`` would not show this: it reads the user record itself.)"""
    admin, user = signup("admin@example.com", "admin"), signup()
    run_sync(AccountsRepository().set_user_fields, admin["user_id"], {"role": "admin"})

    async def roles_around_a_promotion() -> list[str]:
        roles = [(await services.authenticate(user["access_token"], via="bearer")).role for _ in range(2)]
        await set_role(actor_id=admin["user_id"], user_id=user["user_id"], role="moderator")
        return [*roles, (await services.authenticate(user["access_token"], via="bearer")).role]

    auth_reads.clear()
    assert run_sync(roles_around_a_promotion) == ["user", "user", "moderator"]
    assert auth_reads == ["auth_state"] * 2, "cached before the change, read again after it"


def test_a_change_this_process_was_not_told_of_lands_within_the_ttl(signup, auth_reads, stepped_clock):
    """Another replica (or a command against the same database) disables the user: this process, which has the
    sign-in cached, admits it until the entry expires (500 ms by default, never more than 900) and then refuses."""
    body = signup()

    async def scenario() -> list[str]:
        outcomes = []
        await services.authenticate(body["access_token"], via="bearer")
        # the write another process would make: straight to the database, no event, no forget here
        await get_db().write(
            "UPDATE type::record('user', $id) SET enabled = false, updated_at_ms = $now RETURN NONE;",
            {"id": body["user_id"], "now": now_ms()},
            operation="test_disable_elsewhere",
        )
        for step in (0.0, 0.499, 0.001):
            stepped_clock.now += step
            try:
                await services.authenticate(body["access_token"], via="bearer")
                outcomes.append("admitted")
            except Unauthorized as exc:
                outcomes.append(exc.message)
        return outcomes

    assert run_sync(scenario) == ["admitted", "admitted", services.DISABLED]
    assert len(auth_reads) == 2
