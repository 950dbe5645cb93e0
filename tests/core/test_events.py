"""The in-process domain event bus (apps/core/events.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from apps.core import events


@dataclass(frozen=True)
class Happened:
    what: str


@pytest.fixture
def clean_bus(monkeypatch):
    monkeypatch.setattr(events, "_handlers", {})


async def test_subscribers_get_the_event_in_order_sync_or_async(clean_bus):
    seen: list[str] = []

    def first(event: Happened) -> None:
        seen.append(f"sync {event.what}")

    async def second(event: Happened) -> None:
        seen.append(f"async {event.what}")

    events.subscribe(Happened, first)
    events.subscribe(Happened, second)
    events.subscribe(Happened, first)  # once per handler
    await events.publish(Happened("x"))
    await events.publish(events.UserSessionsRevoked("u"))  # no subscriber: nothing happens
    assert seen == ["sync x", "async x"]


async def test_a_failing_subscriber_never_fails_the_publisher(clean_bus, caplog):
    seen: list[str] = []

    def broken(event: Happened) -> None:
        raise RuntimeError("boom")

    events.subscribe(Happened, broken)
    events.subscribe(Happened, lambda event: seen.append(event.what))
    await events.publish(Happened("y"))  # the write that emitted it is committed: no exception here
    assert seen == ["y"]
    assert "domain event handler failed" in caplog.text


def test_chat_subscribes_to_the_domain_events():
    """Wired in ChatConfig.ready: a logout or a block closes streams without accounts importing chat."""
    from apps.chat import hub, realtime

    assert hub.on_sessions_revoked in events._handlers[events.UserSessionsRevoked]
    assert realtime.on_message_visibility_changed in events._handlers[events.MessageVisibilityChanged]
    assert hub.on_membership_ended in events._handlers[realtime.MembershipEnded]
