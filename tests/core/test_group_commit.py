"""The mem:// group commit (apps/core/db/group_commit.py): writes that queue reach the engine together, and each
caller still gets exactly its own transaction's outcome.

Batches are formed deterministically: the first write's engine call is held at a gate until the other writes
have queued behind it (a condition, not a sleep), then everything queued goes as one engine call.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from prometheus_client import REGISTRY

from apps.core.db import SurrealClient, Thrown, UniqueViolation, run_sync
from apps.core.db.errors import DatabaseError, DatabaseUnavailable

SCHEMA = """
DEFINE TABLE gc_counter SCHEMAFULL;
DEFINE FIELD n ON gc_counter TYPE int;
DEFINE TABLE gc_item SCHEMAFULL;
DEFINE FIELD key ON gc_item TYPE string;
DEFINE FIELD seq ON gc_item TYPE int;
DEFINE INDEX gc_item_key ON gc_item FIELDS key UNIQUE;
CREATE gc_counter:hot SET n = 0;
"""
# Top-level LET (not block-scoped), a bound variable used twice, a THROW on request: every batch member uses the
# same names with its own values.
APPEND = """
LET $seq = (UPDATE gc_counter:hot SET n += 1 RETURN AFTER)[0].n;
IF $fail = true { THROW 'refused ' + $key };
CREATE gc_item CONTENT {key: $key, seq: $seq} RETURN NONE;
{ key: $key, seq: $seq }
"""
HOLD = "RETURN 'hold';"


async def _client(**kwargs) -> SurrealClient:
    client = SurrealClient("mem://", f"ns_{uuid.uuid4().hex[:8]}", "db", **kwargs)
    await client.connect()
    await client.write(SCHEMA)
    return client


class _Gate:
    """Holds the engine call of ``HOLD`` until released, so that other writes queue behind it."""

    def __init__(self, client: SurrealClient) -> None:
        self.client, self.released, self.calls = client, asyncio.Event(), []
        self._raw = client._raw

        async def raw(sql, variables):
            self.calls.append(sql)
            if sql.count("BEGIN TRANSACTION") == 1 and HOLD in sql:
                await self.released.wait()
            return await self._raw(sql, variables)

        client._raw = raw

    async def queue_behind_hold(self, writes: list) -> tuple[list, int]:
        """Starts the held write, queues ``writes`` (coroutines) behind it, releases; returns their outcomes and
        the engine calls made from the held write on."""
        group = self.client._group_commit()
        calls_before = group.calls
        hold = asyncio.ensure_future(self.client.write(HOLD, operation="hold"))
        while not self.calls or HOLD not in self.calls[-1]:
            await asyncio.sleep(0)
        tasks = [asyncio.ensure_future(write) for write in writes]
        while len(group._waiting) < len(tasks):
            await asyncio.sleep(0)
        self.released.set()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        await hold
        return outcomes, group.calls - calls_before


def _append(client: SurrealClient, key: str, fail: bool = False):
    return client.write(APPEND, {"key": key, "fail": fail}, operation="append")


async def _learnt_client(**kwargs) -> SurrealClient:
    """A client that has run each text once alone (a text joins a batch only once its statement count is known);
    the append stored ``warm-up`` with seq 1."""
    client = await _client(**kwargs)
    await client.write(HOLD, operation="hold")
    await _append(client, "warm-up")
    return client


def test_queued_writes_share_one_engine_call_and_each_gets_its_own_result():
    async def scenario():
        client = await _learnt_client()
        gate = _Gate(client)
        batches_of_ten = REGISTRY.get_sample_value("gotong_db_write_batch_size_bucket", {"le": "16.0"}) - (
            REGISTRY.get_sample_value("gotong_db_write_batch_size_bucket", {"le": "8.0"})
        )
        outcomes, calls = await gate.queue_behind_hold([_append(client, f"k{i}") for i in range(10)])
        stored = (await client.query("SELECT key, seq FROM gc_item ORDER BY seq;"))[0]
        batches_of_ten = (
            REGISTRY.get_sample_value("gotong_db_write_batch_size_bucket", {"le": "16.0"})
            - REGISTRY.get_sample_value("gotong_db_write_batch_size_bucket", {"le": "8.0"})
            - batches_of_ten
        )
        await client.close()
        return outcomes, stored, calls, client.max_writes_in_flight, batches_of_ten

    outcomes, stored, calls, max_in_flight, batches_of_ten = run_sync(scenario)
    assert calls == 2, "the held write, then the ten queued ones in one call"
    assert batches_of_ten >= 1, "gotong_db_write_batch_size counted the batch of ten"
    assert max_in_flight == 1, "the engine never runs two calls at once (mem:// defect 1)"
    results = [outcome[-1] for outcome in outcomes]
    assert [r["key"] for r in results] == [f"k{i}" for i in range(10)], "each caller got its own transaction"
    assert [r["seq"] for r in results] == list(range(2, 12)), "run one after the other, in arrival order"
    assert [(row["key"], row["seq"]) for row in stored] == [("warm-up", 1)] + [(f"k{i}", i + 2) for i in range(10)]


def test_a_failing_transaction_fails_alone_and_leaves_nothing_behind():
    async def scenario():
        client = await _learnt_client()
        gate = _Gate(client)
        outcomes, _ = await gate.queue_behind_hold(
            [_append(client, "a"), _append(client, "b", fail=True), _append(client, "warm-up"), _append(client, "c")]
        )
        stored = (await client.query("SELECT key, seq FROM gc_item ORDER BY seq;"))[0]
        counter = (await client.query("SELECT VALUE n FROM ONLY gc_counter:hot;"))[0]
        await client.close()
        return outcomes, stored, counter

    outcomes, stored, counter = run_sync(scenario)
    ok_a, thrown, duplicate, ok_c = outcomes
    assert isinstance(thrown, Thrown)
    assert "refused b" in thrown.message
    assert isinstance(duplicate, UniqueViolation)
    assert duplicate.index == "gc_item_key"
    assert ok_a[-1] == {"key": "a", "seq": 2}
    assert ok_c[-1] == {"key": "c", "seq": 3}, "the failed transactions' counter increments were rolled back"
    assert [(row["key"], row["seq"]) for row in stored] == [("warm-up", 1), ("a", 2), ("c", 3)]
    assert counter == 3


def test_a_text_not_seen_before_runs_alone_then_joins_batches():
    async def scenario():
        client = await _client()
        await client.write(HOLD, operation="hold")
        outcomes_and_calls = await _Gate(client).queue_behind_hold([_append(client, f"n{i}") for i in range(4)])
        await client.close()
        return outcomes_and_calls

    outcomes, calls = run_sync(scenario)
    assert [o[-1]["key"] for o in outcomes] == ["n0", "n1", "n2", "n3"]
    # hold; n0 alone (its count is learnt); n1..n3 together
    assert calls == 3


def test_a_caller_that_gave_up_while_queued_is_never_written():
    async def scenario():
        client = await _learnt_client()
        gate = _Gate(client)
        group = client._group_commit()
        hold = asyncio.ensure_future(client.write(HOLD, operation="hold"))
        while not gate.calls:
            await asyncio.sleep(0)
        kept, dropped = asyncio.ensure_future(_append(client, "kept")), asyncio.ensure_future(_append(client, "gone"))
        while len(group._waiting) < 2:
            await asyncio.sleep(0)
        dropped.cancel()
        gate.released.set()
        await hold
        result = await kept
        keys = (await client.query("SELECT VALUE key FROM gc_item;"))[0]
        await client.close()
        return result, dropped.cancelled(), sorted(keys)

    result, cancelled, keys = run_sync(scenario)
    assert cancelled
    assert result[-1]["key"] == "kept"
    assert keys == ["kept", "warm-up"]


def test_an_engine_failure_fails_its_batch_only_and_the_queue_goes_on():
    async def scenario():
        client = await _learnt_client()
        gate = _Gate(client)
        held_raw = client._raw

        async def broken_for_batches(sql, variables):
            if sql.count("BEGIN TRANSACTION") > 1:
                raise DatabaseUnavailable()
            return await held_raw(sql, variables)

        client._raw = broken_for_batches
        outcomes, _ = await gate.queue_behind_hold([_append(client, "x"), _append(client, "y")])
        client._raw = held_raw
        after = await _append(client, "z")
        keys = (await client.query("SELECT VALUE key FROM gc_item;"))[0]
        await client.close()
        return outcomes, after, sorted(keys)

    outcomes, after, keys = run_sync(scenario)
    assert all(isinstance(o, DatabaseUnavailable) for o in outcomes)
    assert after[-1]["key"] == "z"
    assert keys == ["warm-up", "z"]


def test_a_batch_whose_answer_cannot_be_split_is_refused_not_misattributed():
    async def scenario():
        client = await _learnt_client()
        group = client._group_commit()
        for sql in list(group._counts):
            group._counts[sql] += 1  # as if the engine answered one statement less per transaction than learnt
        outcomes, _ = await _Gate(client).queue_behind_hold([_append(client, "p"), _append(client, "q")])
        await client.close()
        return outcomes

    outcomes = run_sync(scenario)
    assert all(isinstance(o, DatabaseError) and "could not be split" in str(o) for o in outcomes)


@pytest.mark.parametrize("write_batch", [1, 3])
def test_batches_never_exceed_the_configured_size(write_batch):
    async def scenario():
        client = await _learnt_client(write_batch=write_batch)
        outcomes_and_calls = await _Gate(client).queue_behind_hold([_append(client, f"s{i}") for i in range(6)])
        await client.close()
        return outcomes_and_calls

    outcomes, calls = run_sync(scenario)
    assert [o[-1]["seq"] for o in outcomes] == list(range(2, 8))
    assert calls == 1 + 6 // write_batch


def test_a_name_one_transaction_defines_is_not_seen_by_the_next():
    """``APPEND``'s top-level ``LET $seq`` would outlive its transaction in a shared query text."""
    probe = "$seq;"

    async def scenario():
        client = await _learnt_client()
        await client.write(probe, operation="probe")
        outcomes, _ = await _Gate(client).queue_behind_hold(
            [_append(client, "first"), client.write(probe, operation="probe")]
        )
        await client.close()
        return outcomes

    appended, probed = run_sync(scenario)
    assert appended[-1] == {"key": "first", "seq": 2}
    assert probed == [None]


def test_a_lone_write_whose_caller_gave_up_is_dropped_by_the_engine_not_committed():
    """The turn is handed on as soon as a lone write's caller is cancelled (docs/data-layer.md, rule 1): that is
    safe only while the embedded engine drops a cancelled call's transaction instead of finishing it. The check
    reads after an engine-side ``SLEEP`` longer than the dropped transaction, so a transaction the engine went on
    with would have committed by then."""

    async def scenario():
        client = await _client()
        abandoned = asyncio.ensure_future(
            client.write("SLEEP 200ms; CREATE gc_counter:left SET n = 7;", operation="abandoned")
        )
        while not client.writes_in_flight:
            await asyncio.sleep(0)  # until its engine call has started
        abandoned.cancel()
        await asyncio.gather(abandoned, return_exceptions=True)
        after = await _append(client, "next")
        _, left = await client.query("SLEEP 400ms; SELECT VALUE n FROM gc_counter:left;")
        await client.close()
        return abandoned.cancelled(), after, left

    cancelled, after, left = run_sync(scenario)
    assert cancelled
    assert after[-1] == {"key": "next", "seq": 1}, "the next write ran at once"
    assert left == [], "the cancelled transaction was not committed"
