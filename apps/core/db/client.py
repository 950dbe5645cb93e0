"""The one SurrealDB client of the process and the rules every query follows.

Why it looks like this (measured facts in ``../shared/notes/environment.md``):

* Only the async SDK client is used; the sync one holds the GIL for a whole
  query. Sync code (management commands, tests) calls through ``run_sync``.
* One handle per process: an embedded file database is locked by the first
  handle that opens it.
* ``mem://`` loses acknowledged concurrent writes to one record, so on that
  engine write transactions are serialised in the process; the ones that
  queue meanwhile go to the engine together (``group_commit``).
* Other engines report write conflicts as retryable; a write transaction is
  retried a bounded number of times, then the caller gets 503.
* Every write is one SurrealQL transaction (``write``): a failure anywhere
  rolls back everything, so nothing half-written stays behind.
* The SDK encodes and decodes CBOR through ``codec`` (cbor2's C codec, the
  same bytes): its own pure-Python codec was a tenth of a send's CPU.
* Embedded queries go straight to the engine's ``execute`` with the same CBOR
  message (``_embedded_query``): the SDK's layers around it (a uuid4, a
  pydantic check, the streaming probe) were half the event loop's CPU of a
  round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
import weakref
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from asgiref.sync import async_to_sync
from surrealdb import AsyncSurreal, ConnectionUnavailableError

from apps.core import metrics
from apps.core.db import codec
from apps.core.db.errors import (
    DatabaseUnavailable,
    RetryableConflict,
    error_from_exception,
    error_from_message,
    first_failure,
)
from apps.core.db.group_commit import GroupCommit

log = logging.getLogger(__name__)
T = TypeVar("T")

MEMORY_SCHEMES = ("mem", "memory")
EMBEDDED_SCHEMES = (*MEMORY_SCHEMES, "surrealkv", "file")


class SurrealClient:
    """A connection to one SurrealDB namespace/database with the project's safety rules."""

    def __init__(
        self,
        endpoint: str,
        namespace: str,
        database: str,
        *,
        username: str = "root",
        password: str = "root",
        max_attempts: int = 8,
        serialise_writes: bool | None = None,
        write_batch: int = 32,
    ) -> None:
        codec.install()  # the SDK's CBOR through C (apps/core/db/codec.py); idempotent
        self.endpoint = endpoint
        self.namespace = namespace
        self.database = database
        self._username = username
        self._password = password
        self.max_attempts = max_attempts
        scheme = endpoint.split("://", 1)[0].lower()
        self.is_embedded = scheme in EMBEDDED_SCHEMES
        self.is_memory = scheme in MEMORY_SCHEMES
        # The mem:// data-loss workaround. Settable for the regression test only.
        self.serialise_writes = self.is_memory if serialise_writes is None else serialise_writes
        # At most this many queued write transactions per engine call (``group_commit``; 1 = one at a time).
        self.write_batch = write_batch
        # Embedded: one engine handle for the process (the file lock allows no second one).
        # Server (ws://): the SDK's socket belongs to the event loop that opened it, and sync
        # callers bring their own loop (async_to_sync), so there is one connection per loop.
        self._embedded_conn: Any = None
        self._embedded_engine: Any = None  # the engine handle inside it (``_embedded_query``)
        self._server_conns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
        self._connect_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._group_commits: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, GroupCommit] = (
            weakref.WeakKeyDictionary()
        )
        # ``write(serialise_on=...)``: a lock per contended record and loop, alive while someone holds or awaits it.
        self._record_locks: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, weakref.WeakValueDictionary[str, asyncio.Lock]
        ] = weakref.WeakKeyDictionary()
        # Instrumentation for tests and diagnostics: how many write transactions ran at once.
        self.writes_in_flight = 0
        self.max_writes_in_flight = 0

    # -- connection -------------------------------------------------------

    def _loop_lock(self, locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]) -> asyncio.Lock:
        # asyncio locks belong to one event loop; sync callers may bring their own
        # loop (async_to_sync), so each loop gets its own lock. The server runs on one loop.
        loop = asyncio.get_running_loop()
        lock = locks.get(loop)
        if lock is None:
            lock = locks[loop] = asyncio.Lock()
        return lock

    def _record_lock(self, record: str) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        locks = self._record_locks.get(loop)
        if locks is None:
            locks = self._record_locks[loop] = weakref.WeakValueDictionary()
        lock = locks.get(record)
        if lock is None:
            lock = locks[record] = asyncio.Lock()
        return lock

    def _serialised(self, record: str | None) -> contextlib.AbstractAsyncContextManager[Any]:
        """What a write transaction waits for in this process when writes are not all serialised: its record's
        turn (``serialise_on``), else nothing."""
        if record is not None:
            return self._record_lock(record)
        return contextlib.nullcontext()

    def _group_commit(self) -> GroupCommit:
        """This loop's queue of serialised writes (like the locks, asyncio futures belong to one loop)."""
        loop = asyncio.get_running_loop()
        group = self._group_commits.get(loop)
        if group is None:
            group = self._group_commits[loop] = GroupCommit(self._execute_serialised, self.write_batch)
        return group

    async def _execute_serialised(self, sql: str, variables: dict[str, Any], operations: list[str]) -> list[Any]:
        """One engine call of the group commit: raw per-statement results."""
        return await self._counted(self._timed_raw(sql, variables, operations))

    @property
    def _conn(self) -> Any:
        if self.is_embedded:
            return self._embedded_conn
        return self._server_conns.get(asyncio.get_running_loop())

    @_conn.setter
    def _conn(self, conn: Any) -> None:
        if self.is_embedded:
            self._embedded_conn = conn
        elif conn is None:
            self._server_conns.pop(asyncio.get_running_loop(), None)
        else:
            self._server_conns[asyncio.get_running_loop()] = conn

    @property
    def connected(self) -> bool:
        return self._embedded_conn is not None or len(self._server_conns) > 0

    async def connect(self) -> None:
        if self._conn is not None:
            return
        async with self._loop_lock(self._connect_locks):
            if self._conn is not None:
                return
            try:
                if self.endpoint.split("://", 1)[0].lower() in FILE_SCHEMES:
                    bound_engine_memory()
                conn = AsyncSurreal(self.endpoint)
                await conn.connect()
                if not self.is_embedded:
                    await conn.signin({"username": self._username, "password": self._password})
                await conn.use(self.namespace, self.database)
                if self.is_embedded:
                    self._embedded_engine = _engine_handle(conn)
            except Exception as exc:
                log.error("surrealdb connect failed", extra={"endpoint": self.endpoint, "error": str(exc)})
                raise DatabaseUnavailable() from exc
            self._conn = conn

    async def use(self, namespace: str, database: str) -> None:
        """Switch namespace/database (tests give each test a fresh one)."""
        await self.connect()
        await self._conn.use(namespace, database)
        self.namespace, self.database = namespace, database
        if not self.is_embedded:
            # Connections of other loops still point at the old database: reopen them when used.
            current = self._conn
            self._server_conns.clear()
            self._conn = current

    async def close(self) -> None:
        """Close the engine explicitly; an embedded engine left open may panic at interpreter exit.

        Server connections of other (finished) event loops cannot be closed from
        this loop; they are dropped and go with their loop.
        """
        conn = self._conn
        self._embedded_conn = self._embedded_engine = None
        self._server_conns.clear()
        if conn is not None:
            try:
                await conn.close()
            except Exception:
                log.warning("surrealdb close failed", exc_info=True)

    # -- queries ----------------------------------------------------------

    async def _raw(self, sql: str, variables: dict[str, Any] | None) -> list[dict[str, Any]]:
        await self.connect()
        try:
            if self.is_embedded:
                response = await self._embedded_query(sql, variables or {})
            else:
                response = await self._conn.query_raw(sql, variables or {})
        except Exception as exc:
            mapped = error_from_exception(exc)
            if isinstance(mapped, DatabaseUnavailable) and not self.is_embedded:
                self._conn = None  # reconnect on the next call
            raise mapped from exc
        if response.get("error"):
            error = response["error"]
            raise error_from_message(str(error.get("message", error)), error.get("kind"))
        return list(response.get("result") or [])

    async def _embedded_query(self, sql: str, variables: dict[str, Any]) -> dict[str, Any]:
        """What the SDK's embedded ``query_raw`` does for a plain query, without its per-call layers.

        The SDK builds a request object with a fresh uuid4 id (an id the embedded engine only echoes back),
        checks it with pydantic, asks whether the query may stream (never, embedded) and then sends the very
        CBOR message built here to the engine's ``execute``. Measured on ``mem://``, warm: 100 µs of the event
        loop's CPU per round trip through the SDK, 51 µs this way (docs/benchmarks.md, issue 14, eleventh pass).
        The engine's failures are mapped as the SDK maps them (``mapped_engine_errors``), so callers see the same
        exceptions; the session (namespace, database) is the handle's own, set by ``use``.
        """
        try:
            raw = await self._embedded_engine.execute(codec.encode({"method": "query", "params": [sql, variables]}))
        except RuntimeError as exc:
            raise ConnectionUnavailableError(f"the embedded engine failed while querying: {exc}") from exc
        return codec.decode(raw)

    async def _timed_raw(
        self, sql: str, variables: dict[str, Any] | None, operations: list[str]
    ) -> list[dict[str, Any]]:
        """``_raw``, its duration recorded under each caller's operation (a group commit's call has several)."""
        started = time.perf_counter()
        try:
            return await self._raw(sql, variables)
        finally:
            elapsed = time.perf_counter() - started
            for operation in operations:
                metrics.db_query_duration_seconds.labels(operation).observe(elapsed)

    async def query(self, sql: str, variables: dict[str, Any] | None = None, *, operation: str = "query") -> list[Any]:
        """Run read statements; returns one result per statement, raises the first failure."""
        return _results(await self._timed_raw(sql, variables, [operation]))

    async def write(
        self,
        sql: str,
        variables: dict[str, Any] | None = None,
        *,
        operation: str = "write",
        serialise_on: str | None = None,
    ) -> list[Any]:
        """Run statements as one transaction; returns the results of the inner statements.

        Serialised in-process on ``mem://`` (``group_commit``: writes that wait meanwhile reach the engine
        together, each still its own transaction); retried while the engine reports a retryable conflict, at
        most ``max_attempts`` times, then 503.

        ``serialise_on`` names a record every such transaction writes (a chat thread's ``seq`` counter): this
        process then runs them one at a time, in arrival order, instead of letting them conflict with each
        other. Why: on a server engine, 128 concurrent sends over 20 threads conflicted so often that 23–26 %
        of them used up all attempts (503) and the engine burnt about 16 ms of CPU per successful send
        (docs/benchmarks.md, issue 14 sixth pass). Conflicts with other processes still happen and are retried.
        """
        wrapped = f"BEGIN TRANSACTION;\n{sql.strip().rstrip(';')};\nCOMMIT TRANSACTION;"
        for attempt in range(1, self.max_attempts + 1):
            try:
                if self.serialise_writes:
                    results = _results(await self._group_commit().run(wrapped, variables or {}, operation))
                else:
                    async with self._serialised(serialise_on):
                        results = await self._counted(self.query(wrapped, variables, operation=operation))
                return results[1:-1]
            except RetryableConflict:
                if attempt == self.max_attempts:
                    log.warning("write transaction kept conflicting", extra={"operation": operation})
                    raise
                metrics.db_transaction_retries_total.labels(operation).inc()
                await asyncio.sleep(random.uniform(0, 0.002 * 2**attempt))
        raise AssertionError("unreachable")

    async def _counted(self, awaitable: Awaitable[T]) -> T:
        self.writes_in_flight += 1
        self.max_writes_in_flight = max(self.max_writes_in_flight, self.writes_in_flight)
        try:
            return await awaitable
        finally:
            self.writes_in_flight -= 1

    async def ping(self) -> None:
        await self.query("RETURN 1;", operation="ping")


def _results(statements: list[dict[str, Any]]) -> list[Any]:
    """One result per statement; raises the failure that caused a failed query."""
    failure = first_failure(statements)
    if failure is not None:
        raise error_from_message(str(failure.get("result")), failure.get("kind"))
    return [s.get("result") for s in statements]


def _engine_handle(conn: Any) -> Any:
    """The embedded engine inside the SDK's connection; fails loudly if the pinned SDK moved it (as ``codec``)."""
    engine = getattr(conn, "_db", None)
    if not callable(getattr(engine, "execute", None)):
        raise RuntimeError("surrealdb SDK changed: the embedded connection has no _db.execute; see _embedded_query")
    return engine


_client: SurrealClient | None = None


FILE_SCHEMES = ("surrealkv", "file")
# The embedded file engine's own variables (SurrealDB core reads them once, when the engine starts).
ENGINE_MEMORY_VARIABLES = {
    "SURREAL_SURREALKV_MAX_MEMTABLE_SIZE": "surrealkv_max_memtable_size",
    "SURREAL_SURREALKV_BLOCK_CACHE_CAPACITY": "surrealkv_block_cache_capacity",
}


def bound_engine_memory() -> None:
    """Give the embedded surrealkv engine the configured memory bounds before it starts.

    Why: its defaults scale with the host's RAM (write buffer 1 GiB and block cache half the RAM minus
    1 GiB on a 16-64 GiB host), so the app process grew about 15 MiB a minute under the soak's writes and
    would keep growing for hours. The config reads the same variable names (validated, with 64 MiB
    defaults); an operator's value passes through unchanged.
    """
    from django.conf import settings

    for variable, field_name in ENGINE_MEMORY_VARIABLES.items():
        os.environ[variable] = getattr(settings.CONFIG, field_name)


def get_db() -> SurrealClient:
    """The process-wide client, built from settings on first use."""
    global _client
    if _client is None:
        from django.conf import settings

        cfg = settings.CONFIG
        _client = SurrealClient(
            cfg.surreal_endpoint,
            cfg.surreal_ns,
            cfg.surreal_db,
            username=cfg.surreal_user,
            password=cfg.surreal_pass,
            write_batch=cfg.surreal_write_batch,
        )
    return _client


async def close_db() -> None:
    global _client
    client, _client = _client, None
    if client is not None:
        await client.close()


def run_sync(func: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
    """Call an async data-layer function from sync code (commands, tests).

    If this thread already runs an event loop without being async code itself
    (Playwright's sync API in browser tests does that), the call runs in a
    helper thread: ``async_to_sync`` refuses a thread with a running loop.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return async_to_sync(func)(*args, **kwargs)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="run_sync") as pool:
        return pool.submit(async_to_sync(func), *args, **kwargs).result()
