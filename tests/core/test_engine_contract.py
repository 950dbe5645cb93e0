"""The engine contract of the data layer: every error class apps/core/db/errors.py maps, triggered for real.

Why: the classification reads the engine's English messages (``Database index `x` already contains``,
``can be retried``, ``An error occurred:``) and its error kinds, while three engine versions are in play
(the embedded core of the Python SDK, the test bridge's @surrealdb/node, the compose file's server; see
"Engine versions" in docs/data-layer.md). Each case here runs the statement on the engine, pins the raw
shape the mapping depends on (message pattern, kind, response level) AND the exception class the data
layer raises, so an engine upgrade that rewords a message fails here, loudly, instead of turning a 409
into a 500 in production.

Engines: ``embedded`` (mem://, the test and dev default), ``surrealkv`` (embedded file engine, the one
that reports write conflicts) and ``bridge`` (ws:// RPC to the Node engine, the server code path).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import pytest
from surrealdb import ConnectionUnavailableError

from apps.core.db import DatabaseUnavailable, SurrealClient, Thrown, UniqueViolation, run_sync
from apps.core.db.errors import (
    DatabaseError,
    RetryableConflict,
    error_from_exception,
    error_from_message,
    first_failure,
)
from tests.conftest import free_port

SCHEMA = """
DEFINE TABLE ec_item SCHEMAFULL;
DEFINE FIELD code ON ec_item TYPE string;
DEFINE INDEX ec_item_code ON ec_item FIELDS code UNIQUE;
DEFINE TABLE ec_counter SCHEMAFULL;
DEFINE FIELD n ON ec_counter TYPE int;
CREATE ec_item:one SET code = 'a';
CREATE ec_counter:hot SET n = 0;
"""

# The raw shapes the mapping depends on (what an upgrade must keep, or errors.py must follow).
INDEX_MESSAGE = re.compile(r"^Database index `ec_item_code` already contains 'a', with record `ec_item:one`$")
RECORD_MESSAGE = re.compile(r"^Database record `ec_item:one` already exists$")
THROWN_MESSAGE = "An error occurred: no such thing"
RETRYABLE_MESSAGE = re.compile(r"Transaction conflict.*can be retried")
PARSE_MESSAGE = re.compile(r"^Parse error: ")


@pytest.fixture(params=["embedded", "bridge"])
def engine(request) -> str:
    """The endpoint of a fresh engine: embedded mem:// or the ws:// test bridge."""
    if request.param == "embedded":
        return "mem://"
    return request.getfixturevalue("surreal_bridge").endpoint


def _client(endpoint: str) -> SurrealClient:
    return SurrealClient(endpoint, f"ec_{uuid.uuid4().hex[:8]}", "db")


async def _raw_failure(client: SurrealClient, sql: str) -> tuple[str, str | None, dict[str, Any]]:
    """Run ``sql`` on the SDK connection itself: the failure's (message, kind, details) as the engine gave them.

    A response-level error (the whole query refused, e.g. a parse error) is returned with ``details``
    ``{"level": "response"}``; otherwise the root-cause statement chosen by ``first_failure``.
    """
    await client.connect()
    response = await client._conn.query_raw(sql, {})
    if response.get("error"):
        error = response["error"]
        return str(error.get("message")), error.get("kind"), {"level": "response"}
    failure = first_failure(list(response.get("result") or []))
    assert failure is not None, f"no failure for {sql!r}: {response}"
    return str(failure.get("result")), failure.get("kind"), {"level": "statement", **(failure.get("details") or {})}


def _run(endpoint: str, scenario) -> Any:
    async def wrapped():
        client = _client(endpoint)
        try:
            await client.write(SCHEMA)
            return await scenario(client)
        finally:
            await client.close()

    return run_sync(wrapped)


# -- uniqueness ---------------------------------------------------------------------------------------


def test_unique_index_violation(engine):
    async def scenario(client):
        raw = await _raw_failure(client, "CREATE ec_item SET code = 'a';")
        with pytest.raises(UniqueViolation) as caught:
            await client.write("CREATE ec_item SET code = 'a';")
        return raw, caught.value

    (message, _kind, details), error = _run(engine, scenario)
    assert INDEX_MESSAGE.match(message), message
    assert details["level"] == "statement"
    assert (error.status, error.index, error.record) == (409, "ec_item_code", None)


def test_duplicate_record_id(engine):
    async def scenario(client):
        raw = await _raw_failure(client, "CREATE ec_item:one SET code = 'b';")
        with pytest.raises(UniqueViolation) as caught:
            await client.write("CREATE ec_item:one SET code = 'b';")
        return raw, caught.value

    (message, kind, _details), error = _run(engine, scenario)
    assert RECORD_MESSAGE.match(message), message
    assert kind == "AlreadyExists"
    assert (error.status, error.index, error.record) == (409, None, "ec_item:one")


# -- THROW ---------------------------------------------------------------------------------------------


def test_throw_inside_a_transaction(engine):
    """Repositories THROW domain reasons inside ``write``; the reason must come back as ``Thrown.message``."""
    sql = "BEGIN TRANSACTION; CREATE ec_item SET code = 'z'; THROW 'no such thing'; COMMIT TRANSACTION;"

    async def scenario(client):
        raw = await _raw_failure(client, sql)
        with pytest.raises(Thrown) as caught:
            await client.write("CREATE ec_item SET code = 'z'; THROW 'no such thing';")
        rows = (await client.query("SELECT code FROM ec_item WHERE code = 'z';"))[0]
        return raw, caught.value, rows

    (message, kind, _details), error, rows = _run(engine, scenario)
    assert message == THROWN_MESSAGE
    assert kind == "Thrown"
    assert error.message == "no such thing"
    assert rows == []  # the transaction rolled back


# -- parse error ---------------------------------------------------------------------------------------


def test_parse_error_is_a_server_fault_not_a_client_error(engine):
    """SurrealQL is the code's, never the client's: a parse error is a 500 (DatabaseError), never a 400."""

    async def scenario(client):
        raw = await _raw_failure(client, "SELEC * FROM ec_item;")
        with pytest.raises(DatabaseError) as caught:
            await client.query("SELEC * FROM ec_item;")
        return raw, caught.value

    (message, _kind, details), error = _run(engine, scenario)
    assert PARSE_MESSAGE.match(message), message
    assert details["level"] == "response"  # refused as a whole: _raw's response-level branch
    assert type(error) is DatabaseError
    assert error.status == 500
    assert "Parse error" in str(error.message)


# -- transaction conflict ------------------------------------------------------------------------------

APPEND = (
    "BEGIN TRANSACTION; UPDATE ec_counter:hot SET n += 1;"
    " CREATE ec_item SET code = <string> rand::uuid(); COMMIT TRANSACTION;"
)


def test_write_conflict_on_surrealkv_is_retryable(tmp_path):
    """Concurrent writers of one record on surrealkv://: the engine aborts some and says they can be retried."""

    async def scenario(client):
        await client.connect()
        for _round in range(20):  # bounded: a round of 40 concurrent transactions conflicts in practice
            responses = await asyncio.gather(*(client._conn.query_raw(APPEND, {}) for _ in range(40)))
            failures = [f for f in (first_failure(list(r.get("result") or [])) for r in responses) if f]
            if failures:
                return failures
        raise AssertionError("no write conflict in 20 rounds of 40 concurrent transactions")

    failures = _run(f"surrealkv://{tmp_path}/db", scenario)
    for failure in failures:
        message = str(failure["result"])
        assert RETRYABLE_MESSAGE.search(message), message
        assert (failure.get("details") or {}).get("kind") == "TransactionConflict"
        mapped = error_from_message(message, failure.get("kind"))
        assert type(mapped) is RetryableConflict
        assert mapped.status == 503


# -- unavailable ---------------------------------------------------------------------------------------


def test_bad_endpoint_is_unavailable():
    client = SurrealClient(f"ws://127.0.0.1:{free_port()}/rpc", "ec", "db")
    with pytest.raises(DatabaseUnavailable) as caught:
        run_sync(client.query, "RETURN 1;")
    assert caught.value.status == 503
    assert isinstance(caught.value.__cause__, OSError | ConnectionError | ConnectionUnavailableError), repr(
        caught.value.__cause__
    )


def test_embedded_engine_gone_is_unavailable():
    """A closed embedded engine: the SDK's exception class (not its text) is what the mapping relies on."""

    async def scenario():
        client = _client("mem://")
        await client.connect()
        conn = client._conn
        await conn.close()
        try:
            await conn.query_raw("RETURN 1;", {})
        except Exception as exc:
            return exc
        raise AssertionError("a closed engine answered")

    exc = run_sync(scenario)
    assert isinstance(exc, ConnectionUnavailableError), repr(exc)
    assert "connection is closed" in str(exc)
    assert type(error_from_exception(exc)) is DatabaseUnavailable


def test_embedded_engine_gone_is_unavailable_through_the_client_too():
    """The client calls the embedded engine itself (``_embedded_query``), not through the SDK's ``query_raw``: a
    closed engine still surfaces as a 503 with the SDK's exception class as its cause."""

    async def scenario():
        client = _client("mem://")
        await client.connect()
        await client._conn.close()  # the handle the client keeps is now closed under it
        try:
            await client.query("RETURN 1;")
        except DatabaseUnavailable as exc:
            return exc
        raise AssertionError("a closed engine answered")

    exc = run_sync(scenario)
    assert exc.status == 503
    assert isinstance(exc.__cause__, ConnectionUnavailableError), repr(exc.__cause__)
    assert "connection is closed" in str(exc.__cause__)


def test_embedded_queries_build_no_sdk_request(monkeypatch):
    """Issue 14 point 3, "no per-request work the data layer can avoid": an embedded query sends its CBOR message
    to the engine directly, without the SDK's request object (a uuid4 and a pydantic check per call)."""
    from surrealdb.request_message import message

    built: list[str] = []
    original = message.RequestMessage.__init__

    def counting(self, method, **kwargs):
        built.append(method.value)
        original(self, method, **kwargs)

    async def scenario():
        client = _client("mem://")
        await client.connect()  # connect and use go through the SDK
        monkeypatch.setattr(message.RequestMessage, "__init__", counting)
        try:
            rows = await client.query("RETURN $x + 1;", {"x": 41})
            await client.write("CREATE ec_direct:1 SET n = 1;")
            with pytest.raises(Thrown):
                await client.write("THROW 'refused';")
            return rows
        finally:
            await client.close()

    assert run_sync(scenario) == [42]
    assert built == []


def test_bridge_gone_is_unavailable_then_recovers(surreal_bridge):
    client = _client(surreal_bridge.endpoint)
    run_sync(client.query, "RETURN 1;")
    surreal_bridge.stop()
    with pytest.raises(DatabaseUnavailable) as caught:
        run_sync(client.query, "RETURN 1;")
    cause = caught.value.__cause__
    assert cause is not None
    assert type(error_from_exception(cause)) is DatabaseUnavailable
    assert isinstance(cause, OSError | ConnectionError | ConnectionUnavailableError) or "closed" in str(cause).lower()


# -- versions ------------------------------------------------------------------------------------------

DOCUMENTED_VERSIONS = {"embedded": re.compile(r"^surrealdb-3\.2\.4$"), "bridge": re.compile(r"^surrealdb-3\.0\.\d+$")}


@pytest.mark.parametrize("which", ["embedded", "bridge"])
def test_engine_versions_are_the_documented_ones(which, request):
    """The versions "Engine versions" in docs/data-layer.md explains; a bump must revisit this file and the docs."""
    endpoint = "mem://" if which == "embedded" else request.getfixturevalue("surreal_bridge").endpoint

    async def scenario():
        client = _client(endpoint)
        await client.connect()
        try:
            return await client._conn.version()
        finally:
            await client.close()

    version = run_sync(scenario)
    assert DOCUMENTED_VERSIONS[which].match(str(version)), version
