"""The data layer over ws:// against a real SurrealDB engine served by the test bridge.

What this proves: the product's server code path (root sign-in, USE ns/db,
queries, transactions, error mapping, reconnect after the server went away,
per-event-loop connections for sync callers) works with SurrealDB's RPC
protocol. What it cannot: the bridge embeds core 3.0.x through Node, shares
one session between sockets and has no TLS; behaviour specific to a real
`surreal start` server (auth scopes, TiKV) needs a real server.
"""

from __future__ import annotations

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
