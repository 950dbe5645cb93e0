"""A process's short memory of sign-in states, so most requests skip ``authenticate``'s one database read.

Why (issue 14 point 3): every authenticated request read its user record and token family
(``AccountsRepository.auth_state``), a database round trip of about 0.5 ms of the process's CPU with the embedded
engine, for an answer that almost never changes between two requests of one user.

The bound comes from the spec (02-accounts.md): a revoked or disabled user's tokens are rejected everywhere
within one second. So:

* a state is kept at most ``AUTH_STATE_CACHE_MS`` (default 500; 0 keeps nothing), then read again;
* this process forgets a user's states at once when it ends a sign-in (``AccountsRepository.revoke_family``,
  and ``events.UserSessionsRevoked``: logout, refresh-token reuse, a moderation block) or changes the user
  record (role changes, the test helper ``AccountsRepository.set_user_fields``);
* other processes (replicas, a management command against the same SurrealDB server) are not told: they see a
  change when their copy expires, inside the spec's second;
* only states that let the request in are kept: a refusal is read again every time, so a re-enabled account
  works at once;
* a read that began before a ``forget`` is not stored (a generation counter), so a request racing a logout
  cannot put the old state back.

Keys are ``(user_id, family_id)``: one entry per sign-in. Entries sit in the order they were stored, which is
also the order they expire in, so every ``put`` drops the expired ones from the front: the table holds only the
sign-ins of the last ``AUTH_STATE_CACHE_MS`` (5,000 sockets that signed in once leave nothing behind), and never
more than ``MAX_ENTRIES`` (the oldest go first).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

MAX_ENTRIES = 20_000

State = dict[str, Any]


class AuthStateCache:
    """``(user_id, family_id)`` → the ``auth_state`` answer that admitted a request, for ``ttl_ms``.

    Shared by every event loop of the process (the embedded engine's helpers run their own), hence the lock;
    it is never held across an ``await``.
    """

    def __init__(self, ttl_ms: int, *, max_entries: int = MAX_ENTRIES, clock: Callable[[], float] = time.monotonic):
        self.ttl_s = ttl_ms / 1000
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], tuple[float, State]] = OrderedDict()
        self._generation = 0
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.ttl_s > 0

    @property
    def generation(self) -> int:
        """Read before the database read; hand it to ``put``. Any ``forget`` in between makes ``put`` a no-op."""
        return self._generation

    def get(self, user_id: str, family_id: str) -> State | None:
        entry = self._entries.get((user_id, family_id))
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1]

    def put(self, user_id: str, family_id: str, state: State, generation: int) -> None:
        if not self.enabled:
            return
        with self._lock:
            if generation != self._generation:
                return  # a forget ran while this state was being read: it may be the old one
            now = self._clock()
            self._entries.pop((user_id, family_id), None)  # re-stored: to the back, where its expiry belongs
            while self._entries and (
                len(self._entries) >= self.max_entries or next(iter(self._entries.values()))[0] <= now
            ):
                self._entries.popitem(last=False)  # expired, or the oldest when the table is full
            self._entries[(user_id, family_id)] = (now + self.ttl_s, state)

    def forget(self, user_id: str, family_id: str | None = None) -> None:
        """Drop a sign-in's state, or with ``family_id=None`` every state of the user."""
        with self._lock:
            self._generation += 1
            if family_id is not None:
                self._entries.pop((user_id, family_id), None)
                return
            for key in [key for key in self._entries if key[0] == user_id]:
                del self._entries[key]

    def forget_family(self, family_id: str) -> None:
        """Drop one sign-in's state when only its family is known (``AccountsRepository.revoke_family``)."""
        with self._lock:
            self._generation += 1
            for key in [key for key in self._entries if key[1] == family_id]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


_shared: AuthStateCache | None = None


def shared() -> AuthStateCache:
    """The process's cache, sized from ``settings.CONFIG.auth_state_cache_ms`` on first use."""
    global _shared
    if _shared is None:
        from django.conf import settings

        _shared = AuthStateCache(settings.CONFIG.auth_state_cache_ms)
    return _shared


def forget_user(user_id: str) -> None:
    """Every cached sign-in state of ``user_id`` goes (after a change to the user record is committed)."""
    shared().forget(user_id)


def forget_family(family_id: str) -> None:
    """The cached state of one sign-in goes (after its family was revoked)."""
    shared().forget_family(family_id)


def on_sessions_revoked(event: Any) -> None:
    """``events.UserSessionsRevoked`` handler (subscribed in ``AccountsConfig.ready``)."""
    shared().forget(event.user_id, event.family_id)
