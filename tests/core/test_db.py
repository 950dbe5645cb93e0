"""The data layer: error mapping, transactions, unit of work, and the engine-defect workarounds.

Each workaround of ../shared/notes/environment.md has a test here that fails
when the workaround is removed.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from apps.core.db import (
    DatabaseUnavailable,
    Statement,
    SurrealClient,
    Thrown,
    UniqueViolation,
    UnitOfWork,
    run_sync,
)
from apps.core.db.errors import DatabaseError, RetryableConflict

SCHEMA = """
DEFINE TABLE dl_counter SCHEMAFULL;
DEFINE FIELD last_seq ON dl_counter TYPE int;
DEFINE TABLE dl_item SCHEMAFULL;
DEFINE FIELD thread_id ON dl_item TYPE string;
DEFINE FIELD seq ON dl_item TYPE int;
DEFINE FIELD body ON dl_item TYPE string;
DEFINE INDEX dl_item_seq ON dl_item FIELDS thread_id, seq UNIQUE;
CREATE dl_counter:hot SET last_seq = 0;
"""

# The workload that lost acknowledged writes on mem:// (8 appenders, one counter record).
APPEND = """
UPDATE dl_counter:hot SET last_seq += 1;
LET $s = dl_counter:hot.last_seq;
CREATE type::record('dl_item', ['hot', $s]) CONTENT {thread_id: 'hot', seq: $s, body: $body};
RETURN $s;
"""


async def _fresh_client(endpoint: str = "mem://", **kwargs) -> SurrealClient:
    client = SurrealClient(endpoint, f"ns_{uuid.uuid4().hex[:8]}", "db", **kwargs)
    await client.connect()
    await client.write(SCHEMA)
    return client


async def _append_concurrently(client: SurrealClient, writers: int = 8, each: int = 30) -> tuple[list, list]:
    acked: list[tuple[int, str]] = []

    async def writer(w: int) -> None:
        for i in range(each):
            body = f"{w}-{i}"
            results = await client.write(APPEND, {"body": body}, operation="append")
            acked.append((results[-1], body))

    await asyncio.gather(*(writer(w) for w in range(writers)))
    stored = (await client.query("SELECT seq, body FROM dl_item;"))[0]
    return acked, stored


class TestErrorMapping:
    def test_unique_index_violation_is_a_conflict_naming_the_index(self, surreal_db):
        async def scenario():
            await surreal_db.write(SCHEMA)
            await surreal_db.write("CREATE dl_item CONTENT {thread_id: 'a', seq: 1, body: 'x'};")
            await surreal_db.write("CREATE dl_item CONTENT {thread_id: 'a', seq: 1, body: 'y'};")

        with pytest.raises(UniqueViolation) as caught:
            run_sync(scenario)
        assert caught.value.status == 409
        assert caught.value.index == "dl_item_seq"

    def test_duplicate_record_id_is_a_conflict(self, surreal_db):
        async def scenario():
            await surreal_db.write(SCHEMA)
            await surreal_db.write("CREATE dl_counter:hot SET last_seq = 5;")

        with pytest.raises(UniqueViolation) as caught:
            run_sync(scenario)
        assert caught.value.record == "dl_counter:hot"

    def test_duplicate_escaped_record_id_is_a_conflict_too(self, surreal_db):
        """An id that needs escaping (a hex id starting with a digit, a hyphen) comes back in backticks."""

        async def scenario():
            await surreal_db.write(SCHEMA)
            await surreal_db.write("CREATE type::record('dl_counter', '0193-ab') SET last_seq = 1;")
            await surreal_db.write("CREATE type::record('dl_counter', '0193-ab') SET last_seq = 2;")

        with pytest.raises(UniqueViolation) as caught:
            run_sync(scenario)
        assert caught.value.record == "dl_counter:`0193-ab`"

    def test_parse_error_is_an_internal_error_not_a_client_error(self, surreal_db):
        with pytest.raises(DatabaseError) as caught:
            run_sync(surreal_db.query, "SELEC nonsense;")
        assert caught.value.status == 500

    def test_throw_is_reported_as_thrown_with_its_message(self, surreal_db):
        with pytest.raises(Thrown) as caught:
            run_sync(surreal_db.write, "THROW 'thread is archived';")
        assert "thread is archived" in caught.value.message

    def test_unreachable_server_is_unavailable_503(self):
        client = SurrealClient("ws://127.0.0.1:9/rpc", "ns", "db")
        with pytest.raises(DatabaseUnavailable) as caught:
            run_sync(client.query, "RETURN 1;")
        assert caught.value.status == 503
        assert caught.value.headers()["Retry-After"]


class TestTransactions:
    def test_failed_statement_rolls_back_the_whole_write(self, surreal_db):
        async def scenario():
            await surreal_db.write(SCHEMA)
            with pytest.raises(UniqueViolation):
                await surreal_db.write(
                    "CREATE dl_item CONTENT {thread_id: 't', seq: 1, body: 'a'};"
                    "UPDATE dl_counter:hot SET last_seq = 99;"
                    "CREATE dl_item CONTENT {thread_id: 't', seq: 1, body: 'b'};"
                )
            return await surreal_db.query("SELECT count() FROM dl_item GROUP ALL; SELECT * FROM dl_counter:hot;")

        messages, thread = run_sync(scenario)
        assert messages in ([], [{"count": 0}])
        assert thread[0]["last_seq"] == 0

    def test_unit_of_work_commits_statements_of_several_repositories_atomically(self, surreal_db):
        async def scenario():
            await surreal_db.write(SCHEMA)
            uow = UnitOfWork(surreal_db)
            uow.add(Statement("UPDATE dl_counter:hot SET last_seq = $seq;", {"seq": 1}))
            index = uow.add(
                Statement(
                    "CREATE dl_item CONTENT {thread_id: $t, seq: $seq, body: $body} RETURN AFTER;",
                    {"t": "hot", "seq": 1, "body": "hello"},
                )
            )
            results = await uow.commit(operation="test")
            return index, results

        index, results = run_sync(scenario)
        assert index == 1
        assert results[1][0][0]["body"] == "hello"

    def test_unit_of_work_leaves_nothing_behind_when_one_part_fails(self, surreal_db):
        async def scenario():
            await surreal_db.write(SCHEMA)
            uow = UnitOfWork(surreal_db)
            uow.add(Statement("UPDATE dl_counter:hot SET last_seq = $seq;", {"seq": 7}))
            uow.add(Statement("CREATE dl_counter:hot SET last_seq = $seq;", {"seq": 1}))  # duplicate id
            with pytest.raises(UniqueViolation):
                await uow.commit(operation="test")
            return (await surreal_db.query("SELECT last_seq FROM dl_counter:hot;"))[0]

        assert run_sync(scenario) == [{"last_seq": 0}]

    def test_each_statement_gets_the_results_it_declares(self, surreal_db):
        """The unit slices results by ``Statement.results``, so a ``;`` inside a string or a block counts nothing."""

        async def scenario():
            uow = UnitOfWork(surreal_db)
            # Bare expressions, not RETURN: a top-level RETURN ends a transaction early.
            first = uow.add(Statement("'semi;colon;';"))
            second = uow.add(Statement("LET $x = $n; IF $x > 1 { LET $y = 'a;b'; $x } ELSE { 0 }; $x + 1;",
                                       {"n": 2}, results=3))  # fmt: skip
            third = uow.add(Statement("$n;", {"n": "last"}))
            return (first, second, third), await uow.commit(operation="test")

        slots, results = run_sync(scenario)
        assert slots == (0, 1, 2)
        assert [len(group) for group in results] == [1, 3, 1]
        assert results[0] == ["semi;colon;"]
        assert results[1][1:] == [2, 3]  # LET, then the IF block's value, then the sum
        assert results[2] == ["last"]

    def test_a_wrong_declared_count_is_refused_not_misattributed(self, surreal_db):
        async def scenario():
            uow = UnitOfWork(surreal_db)
            uow.add(Statement("1; 2;"))  # two results, declared as one
            uow.add(Statement("3;"))
            await uow.commit(operation="test")

        with pytest.raises(DatabaseError, match="declared 2 results, the engine returned 3"):
            run_sync(scenario)
        with pytest.raises(ValueError):
            Statement("RETURN 1;", results=0)


class TestMemoryEngineWriteSerialisation:
    """Defect 1: mem:// loses acknowledged concurrent writes unless writes are serialised."""

    def test_writes_never_overlap_on_mem(self):
        async def scenario():
            client = await _fresh_client()
            assert client.serialise_writes is True
            await asyncio.gather(*(client.write("SLEEP 5ms; RETURN 1;") for _ in range(6)))
            await client.close()
            return client.max_writes_in_flight

        assert run_sync(scenario) == 1

    def test_concurrent_appends_keep_every_acknowledged_write_and_a_gapless_seq(self):
        async def scenario():
            client = await _fresh_client()
            results = [await _append_concurrently(client) for _ in range(3)]
            await client.close()
            return results

        rounds = run_sync(scenario)
        acked = [pair for round_acked, _ in rounds for pair in round_acked]
        stored = rounds[-1][1]
        acked_seqs = sorted(seq for seq, _ in acked)
        stored_pairs = {(row["seq"], row["body"]) for row in stored}
        assert len(acked_seqs) == len(set(acked_seqs)), "two acknowledged writes got the same seq"
        assert set(acked) <= stored_pairs, "an acknowledged write is missing"
        assert acked_seqs == list(range(1, len(acked_seqs) + 1)), "seq has gaps"


class TestRetryOfRetryableConflicts:
    """Engines other than mem:// surface write conflicts as retryable: retry, bounded."""

    def test_concurrent_appends_on_surrealkv_all_succeed_through_retries(self, tmp_path):
        async def scenario():
            client = await _fresh_client(f"surrealkv://{tmp_path}/db")
            assert client.serialise_writes is False
            acked, stored = await _append_concurrently(client, writers=6, each=20)
            await client.close()
            return acked, stored

        acked, stored = run_sync(scenario)
        assert len(acked) == 120
        assert sorted(row["seq"] for row in stored) == list(range(1, 121))

    def test_retries_stop_after_max_attempts_with_503(self, monkeypatch):
        client = SurrealClient("mem://", "ns_retry", "db", max_attempts=3)
        calls = []

        async def always_conflicting(sql, variables):
            calls.append(sql)
            raise RetryableConflict()

        monkeypatch.setattr(client, "_raw", always_conflicting)
        with pytest.raises(RetryableConflict) as caught:
            run_sync(client.write, "RETURN 1;")
        assert len(calls) == 3
        assert caught.value.status == 503
