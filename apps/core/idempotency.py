"""Idempotent creating POSTs (``01-api-conventions.md``, "Idempotency").

A client retries a request with the same ``X-Request-ID``; the server runs it
once and replays the stored answer afterwards. Records live under
``gotong:idemp:<operation>:<scope>:<X-Request-ID>`` (``scope`` = the caller's
user id, plus the thread id for chat operations; the caller builds it).

``begin`` stores ``in_progress`` (60 s) only if the key is absent. A second
``begin`` finds the record and gets:

* the same body, still ``in_progress`` → 409 ``conflict`` (the first attempt is running);
* the same body, ``completed`` → the stored status and body, replayed exactly
  (the view adds ``Idempotent-Replayed: true``);
* a different body (SHA-256 of the canonical JSON differs) → 409 ``conflict``
  with ``details.reason = "idempotency_key_reused"``, whatever the state.

``complete`` stores ``completed`` with status and body for 24 h. On any error
after ``begin`` the in-progress marker is released so a retry runs again.

Backends: Redis when ``REDIS_URL`` is set (``SET NX PX``; shared by every
replica), an in-process dict otherwise (one process only). The choice is made
per call, so tests can switch with ``set_redis_url``. A Redis failure is a 503
``unavailable``: falling back to the in-process store would let two replicas
both run the same request.

Views use :func:`run_idempotent`::

    async def post(request):
        data = validated(Serializer, request.data)
        return await run_idempotent(request, "chat.send", f"{user_id}:{thread_id}", data,
                                    lambda: send_message(...))
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from django.http import HttpRequest, JsonResponse
from redis.exceptions import RedisError

from apps.core import metrics
from apps.core.errors import Conflict, Unavailable, ValidationFailed
from apps.core.redis import get_redis

log = logging.getLogger(__name__)

KEY_PREFIX = "gotong:idemp:"
IN_PROGRESS_TTL_MS = 60_000
COMPLETED_TTL_MS = 24 * 3600 * 1000
REPLAYED_HEADER = "Idempotent-Replayed"

IN_PROGRESS = "in_progress"
COMPLETED = "completed"


@dataclass(frozen=True)
class Record:
    state: str  # IN_PROGRESS | COMPLETED
    body_hash: str
    token: str = ""  # identifies the attempt holding an in-progress marker
    status: int | None = None
    body: Any = None

    def dumps(self) -> str:
        return json.dumps(
            {
                "state": self.state,
                "body_hash": self.body_hash,
                "token": self.token,
                "status": self.status,
                "body": self.body,
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )

    @classmethod
    def loads(cls, raw: str | bytes) -> Record:
        data = json.loads(raw)
        return cls(data["state"], data["body_hash"], data.get("token", ""), data.get("status"), data.get("body"))


@dataclass(frozen=True)
class Begun:
    """``begin`` acquired the key: run the operation, then ``complete`` or ``release`` with ``token``."""

    key: str
    token: str
    body_hash: str


@dataclass(frozen=True)
class Replay:
    status: int
    body: Any


def make_key(operation: str, scope: str, request_id: str) -> str:
    return f"{KEY_PREFIX}{operation}:{scope}:{request_id}"


def body_hash(body: Any) -> str:
    """SHA-256 of the canonical request body.

    Parsed bodies (dicts, lists, …) are hashed as
    ``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)``;
    ``bytes``/``str`` are parsed as JSON first so key order and whitespace do
    not matter, and hashed raw when they are not JSON.
    """
    if isinstance(body, bytes | bytearray | memoryview | str):
        raw = bytes(body) if not isinstance(body, str) else body.encode("utf-8", "surrogatepass")
        try:
            parsed = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return hashlib.sha256(raw).hexdigest()
        body = parsed
    try:
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    except RecursionError:
        # The parser refuses such bodies first; a caller passing one anyway must not get a 500.
        raise ValidationFailed.for_fields({"body": ["nested too deeply"]}) from None
    # "surrogatepass": the hash runs before validation, so it must not be the place that crashes on
    # a lone surrogate (the strict parser refuses those with a 400 before any view runs).
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


class Backend(Protocol):
    async def add(self, key: str, record: Record, ttl_ms: int) -> Record | None:
        """Store ``record`` only if ``key`` is absent; returns ``None`` when stored, else the existing record."""

    async def put(self, key: str, record: Record, ttl_ms: int) -> None:
        """Store ``record`` unconditionally."""

    async def delete_if_token(self, key: str, token: str) -> None:
        """Delete ``key`` if it is still the in-progress marker with ``token``."""


# The in-process store keeps at most this many keys (about 0.5 KiB each: 10,000 ≈ 5 MiB). Without a bound it held
# every answer for 24 h: at 50 sends/s that is 4.3 million entries, and the soak saw memory grow with it.
LOCAL_MAX_ENTRIES = 10_000


class LocalBackend:
    """A dict with expiry for one process. Every operation holds a (non-awaiting) lock, so it is
    atomic for coroutines of one loop and for threads (sync views run on other threads).

    Bounded: past ``max_entries`` the oldest keys go first (insertion order), so a retry of a request older
    than the last ``max_entries`` runs again. Chat sends stay idempotent regardless (a unique index on
    ``(thread, X-Request-ID)``); Redis, required in production, keeps the whole 24 h.
    """

    def __init__(self, max_entries: int = LOCAL_MAX_ENTRIES) -> None:
        self._data: dict[str, tuple[Record, float]] = {}
        self._lock = threading.Lock()
        self._next_sweep = 0.0
        self.max_entries = max_entries

    def _evict_oldest(self) -> None:
        while len(self._data) > self.max_entries:
            del self._data[next(iter(self._data))]

    def _get(self, key: str, now: float) -> Record | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[1] <= now:
            del self._data[key]
            return None
        return item[0]

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + 60
        for key in [k for k, (_, expires) in self._data.items() if expires <= now]:
            del self._data[key]

    async def add(self, key: str, record: Record, ttl_ms: int) -> Record | None:
        now = time.monotonic()
        with self._lock:
            self._sweep(now)
            existing = self._get(key, now)
            if existing is not None:
                return existing
            self._data[key] = (record, now + ttl_ms / 1000)
            self._evict_oldest()
            return None

    async def put(self, key: str, record: Record, ttl_ms: int) -> None:
        with self._lock:
            self._data[key] = (record, time.monotonic() + ttl_ms / 1000)
            self._evict_oldest()

    async def delete_if_token(self, key: str, token: str) -> None:
        with self._lock:
            existing = self._get(key, time.monotonic())
            if existing is not None and existing.state == IN_PROGRESS and existing.token == token:
                del self._data[key]

    def ttl_ms(self, key: str) -> int | None:
        """Remaining lifetime (tests)."""
        with self._lock:
            item = self._data.get(key)
            return None if item is None else int((item[1] - time.monotonic()) * 1000)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


# KEYS[1]; ARGV[1] token. Compare-and-delete so a late release never removes another attempt's marker.
_RELEASE_LUA = """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local ok, rec = pcall(cjson.decode, raw)
if ok and rec['state'] == 'in_progress' and rec['token'] == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisBackend:
    """Shared by every replica. Any Redis error becomes ``Unavailable`` (503)."""

    def _client(self):
        client = get_redis()
        if client is None:  # pragma: no cover - chosen only when a URL is set
            raise Unavailable("idempotency store is not configured")
        return client

    async def add(self, key: str, record: Record, ttl_ms: int) -> Record | None:
        try:
            client = self._client()
            for _ in range(5):
                if await client.set(key, record.dumps(), nx=True, px=ttl_ms):
                    return None
                raw = await client.get(key)
                if raw is not None:
                    return Record.loads(raw)
                # Expired between SET and GET: try again.
            raise Unavailable("idempotency store is busy; retry")
        except (RedisError, OSError, TimeoutError) as exc:
            raise _unavailable(exc) from exc

    async def put(self, key: str, record: Record, ttl_ms: int) -> None:
        try:
            await self._client().set(key, record.dumps(), px=ttl_ms)
        except (RedisError, OSError, TimeoutError) as exc:
            raise _unavailable(exc) from exc

    async def delete_if_token(self, key: str, token: str) -> None:
        try:
            await self._client().eval(_RELEASE_LUA, 1, key, token)
        except (RedisError, OSError, TimeoutError) as exc:
            raise _unavailable(exc) from exc


def _unavailable(exc: BaseException) -> Unavailable:
    log.warning("idempotency store unavailable", extra={"error": f"{type(exc).__name__}: {exc}"})
    return Unavailable("idempotency store is unavailable; retry later")


_local = LocalBackend()
_redis = RedisBackend()


def backend() -> Backend:
    """Redis when a Redis URL is configured (decided per call), else the in-process store."""
    from apps.core.redis import redis_url

    return _redis if redis_url() else _local


def local_store() -> LocalBackend:
    return _local


def reset_local_store() -> None:
    """Forget every in-process record (tests)."""
    _local.clear()


class IdempotencyStore:
    """``begin`` / ``complete`` / ``release`` for one backend (default: chosen per call)."""

    def __init__(self, store: Backend | None = None) -> None:
        self._store = store

    @property
    def store(self) -> Backend:
        return self._store if self._store is not None else backend()

    async def begin(self, operation: str, scope: str, request_id: str, body: Any) -> Begun | Replay:
        """Acquire the key, or return the completed answer to replay; raises ``Conflict`` otherwise."""
        key = make_key(operation, scope, request_id)
        digest = body_hash(body)
        token = secrets.token_hex(16)
        existing = await self.store.add(key, Record(IN_PROGRESS, digest, token), IN_PROGRESS_TTL_MS)
        if existing is None:
            return Begun(key, token, digest)
        if existing.body_hash != digest:
            metrics.idempotency_collisions_total.labels(operation, "key_reused").inc()
            raise Conflict(
                "X-Request-ID was already used with a different request body",
                details={"reason": "idempotency_key_reused"},
            )
        if existing.state == IN_PROGRESS:
            metrics.idempotency_collisions_total.labels(operation, "in_progress").inc()
            raise Conflict("request with this X-Request-ID is still in progress")
        metrics.idempotency_collisions_total.labels(operation, "replayed").inc()
        return Replay(int(existing.status or 200), existing.body)

    async def complete(self, begun: Begun, status: int, body: Any) -> None:
        await self.store.put(begun.key, Record(COMPLETED, begun.body_hash, "", status, body), COMPLETED_TTL_MS)

    async def release(self, begun: Begun) -> None:
        await self.store.delete_if_token(begun.key, begun.token)


store = IdempotencyStore()


def request_id_of(request: HttpRequest) -> str:
    """The request's ``X-Request-ID`` (validated or generated by ``RequestContextMiddleware``)."""
    rid = getattr(request, "request_id", None) or request.META.get("HTTP_X_REQUEST_ID")
    if not rid:
        from apps.core.ids import new_request_id

        rid = request.request_id = new_request_id()
    return rid


async def run_idempotent(
    request: HttpRequest,
    operation: str,
    scope: str,
    body: Any,
    handler: Callable[[], Awaitable[tuple[int, Any]]],
    *,
    database_backed: bool = False,
) -> JsonResponse:
    """Run ``handler`` once per ``(operation, scope, X-Request-ID)`` and answer as JSON.

    ``database_backed=True`` says the operation's records carry the request id under a
    UNIQUE index, so the database alone stops duplicates: if the store (Redis) is
    unavailable the handler runs anyway instead of answering 503 — chat sends must
    keep working while Redis is down (03-chat.md). Otherwise an unavailable store is 503.

    * First attempt: ``handler()`` → ``(status, body)``. Only **2xx** answers are
      stored as completed and replayed later. A 4xx/5xx answer (or an exception,
      or cancellation) releases the in-progress marker instead, so the client
      may fix the request or retry and it runs again — an error is not the
      outcome of the operation, and storing it would pin a transient failure
      for 24 h. Exceptions propagate unchanged (the API edge renders them).
    * Same key again while running → ``Conflict`` (409); after completion →
      the stored status and body with ``Idempotent-Replayed: true``; with a
      different body → ``Conflict`` with ``details.reason = "idempotency_key_reused"``.
    * If storing the completed answer fails (Redis down after the work was
      done) the answer is still returned: the operation happened, and
      database-level uniqueness stops a retry from creating a duplicate.
    """
    try:
        outcome = await store.begin(operation, scope, request_id_of(request), body)
    except Unavailable:
        if not database_backed:
            raise
        log.warning("idempotency store unavailable; relying on database uniqueness", extra={"operation": operation})
        status, result = await handler()
        return JsonResponse(result, status=status, safe=False)
    if isinstance(outcome, Replay):
        response = JsonResponse(outcome.body, status=outcome.status, safe=False)
        response[REPLAYED_HEADER] = "true"
        return response
    try:
        status, result = await handler()
    except BaseException:
        await _release_quietly(outcome)
        raise
    if 200 <= status < 300:
        try:
            await store.complete(outcome, status, result)
        except Unavailable:
            log.error("could not store the completed idempotent answer", extra={"operation": operation})
            await _release_quietly(outcome)
    else:
        await _release_quietly(outcome)
    return JsonResponse(result, status=status, safe=False)


async def _release_quietly(begun: Begun) -> None:
    """Release the marker; never hides the original error (the marker expires in 60 s anyway)."""
    try:
        await asyncio.shield(store.release(begun))
    except (Unavailable, asyncio.CancelledError):
        log.warning("could not release an idempotency marker", extra={"key": begun.key})
