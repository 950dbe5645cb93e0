"""The data layer over ws:// against a real SurrealDB engine served by the test bridge.

What this proves: the product's server code path (root sign-in, USE ns/db,
queries, transactions, error mapping, reconnect after the server went away,
per-event-loop connections for sync callers) works with SurrealDB's RPC
protocol. What it cannot: the bridge embeds core 3.0.x through Node, shares
one session between sockets and has no TLS; behaviour specific to a real
`surreal start` server (auth scopes, TiKV) needs a real server.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from apps.core.db import DatabaseUnavailable, SurrealClient, UniqueViolation, run_sync
from apps.core.db.migrations import check_schema, migrate


def _client(bridge, **kwargs) -> SurrealClient:
    return SurrealClient(bridge.endpoint, f"ns_{uuid.uuid4().hex[:8]}", "db", **kwargs)


def test_root_sign_in_then_migrations_and_schema_check(surreal_bridge):
    client = _client(surreal_bridge)
    applied = run_sync(migrate, client)
    assert "core/0001_core.surql" in applied
    assert run_sync(check_schema, client) == []
    assert client.serialise_writes is False  # only mem:// needs the in-process lock


def test_writes_are_transactions_and_uniqueness_is_a_conflict(surreal_bridge):
    client = _client(surreal_bridge)
    run_sync(migrate, client)

    async def scenario():
        await client.write("CREATE _migration CONTENT {name: 'x', checksum: 'a', applied_at_ms: 1};")
        with pytest.raises(UniqueViolation) as caught:
            await client.write(
                "CREATE _migration CONTENT {name: 'y', checksum: 'b', applied_at_ms: 2};"
                "CREATE _migration CONTENT {name: 'x', checksum: 'c', applied_at_ms: 3};"
            )
        rows = (await client.query("SELECT name FROM _migration WHERE name IN ['x', 'y'];"))[0]
        return caught.value, rows

    error, rows = run_sync(scenario)
    assert error.index == "_migration_name"
    assert [r["name"] for r in rows] == ["x"]  # 'y' rolled back with the failed transaction


def test_wrong_credentials_are_unavailable_not_a_client_error(surreal_bridge):
    client = _client(surreal_bridge, password="wrong")
    with pytest.raises(DatabaseUnavailable) as caught:
        run_sync(client.query, "RETURN 1;")
    assert caught.value.status == 503


def test_a_server_restart_gives_503_then_the_client_reconnects(surreal_bridge):
    client = _client(surreal_bridge)
    assert run_sync(client.query, "RETURN 1;") == [1]
    surreal_bridge.stop()
    with pytest.raises(DatabaseUnavailable):
        run_sync(client.query, "RETURN 1;")
    surreal_bridge.start()
    assert run_sync(client.query, "RETURN 2;") == [2]


def test_each_event_loop_gets_its_own_connection(surreal_bridge):
    """Sync callers (commands) each run on a new loop; the SDK's socket is bound to its loop."""
    client = _client(surreal_bridge)
    for value in range(3):
        assert run_sync(client.query, "RETURN $v;", {"v": value}) == [value]


def test_the_app_runs_on_a_server_endpoint_with_commands_alongside(surreal_bridge, live_server_factory):
    """Two processes share one database over ws://: the server and management commands at any time."""
    import subprocess
    import sys

    import httpx

    from tests.conftest import ROOT, server_env

    env = {"SURREAL_ENDPOINT": surreal_bridge.endpoint, "SURREAL_NS": "app", "SURREAL_DB": "main"}

    def manage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=server_env(**env, ADMIN_PASSWORD="admin-password-123"),
            capture_output=True,
            text=True,
            timeout=60,
        )

    migrated = manage("surreal_migrate")
    assert migrated.returncode == 0, migrated.stderr
    server = live_server_factory(**env)
    signup = httpx.post(
        f"{server.url}/v1/auth/signup",
        json={"email": "ws@example.com", "username": "wsuser", "password": "long enough pw"},
    )
    assert signup.status_code == 201, signup.text
    # A command writes while the server runs; the server sees it on the next request.
    promoted = manage("createadmin", "--email", "ws@example.com", "--username", "wsuser")
    assert promoted.returncode == 0, promoted.stderr
    me = httpx.get(f"{server.url}/v1/auth/me", headers={"Authorization": f"Bearer {signup.json()['access_token']}"})
    assert me.json()["role"] == "admin"


def test_writes_serialised_on_one_record_queue_in_the_process_instead_of_conflicting(surreal_bridge):
    """``write(serialise_on=...)``: this process's writers of one record run one at a time (a chat thread's seq).

    On a server engine concurrent transactions on one record conflict and are retried; 128 concurrent sends
    exhausted the retries for a quarter of them (issue 14). Queued, none conflicts with another of ours, all
    commit, and the per-record locks are gone afterwards. Writers of other records are not held up.
    """
    client = _client(surreal_bridge)
    run_sync(migrate, client)
    writers = 16

    async def scenario():
        await client.write("CREATE _migration:counter CONTENT {name: 'counter', checksum: 'c', applied_at_ms: 0};")
        client.max_writes_in_flight = 0
        bump = "UPDATE _migration:counter SET applied_at_ms += 1;"
        await asyncio.gather(*(client.write(bump, serialise_on="_migration:counter") for _ in range(writers)))
        queued = client.max_writes_in_flight
        client.max_writes_in_flight = 0
        others = [f"CREATE _migration CONTENT {{name: 'other{i}', checksum: 'c', applied_at_ms: 0}};" for i in range(4)]
        await asyncio.gather(*(client.write(sql, serialise_on=f"_migration:other{i}") for i, sql in enumerate(others)))
        side_by_side = client.max_writes_in_flight
        count = (await client.query("SELECT VALUE applied_at_ms FROM ONLY _migration:counter;"))[0]
        locks_left = sum(len(locks) for locks in client._record_locks.values())
        return queued, side_by_side, count, locks_left

    retries_before = _retries("write")
    queued, side_by_side, count, locks_left = run_sync(scenario)
    assert queued == 1  # one at a time
    assert side_by_side > 1  # different records do not wait for each other
    assert count == writers  # every increment committed
    assert _retries("write") == retries_before  # none conflicted with another writer of this process
    assert locks_left == 0


def _retries(operation: str) -> float:
    from apps.core import metrics

    return metrics.db_transaction_retries_total.labels(operation)._value.get()
