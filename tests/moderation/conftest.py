"""Moderation test helpers: users through the real API, promoted by a direct role change."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.accounts.repository import AccountsRepository
from apps.core.db import run_sync
from apps.moderation.repository import ModerationRepository
from tests.support.api_user import ApiUser

PASSWORD = "correct horse battery"


class User(ApiUser):
    def __init__(self, client: Client, data: dict[str, Any]) -> None:
        super().__init__(client, data)
        self.email = f"{data['username']}@example.com"

    def promote(self, role: str) -> User:
        run_sync(AccountsRepository().set_user_fields, self.user_id, {"role": role})
        return self

    # -- content ---------------------------------------------------------------
    def thread(self, privacy: str = "public") -> str:
        response = self.post("/v1/chat/threads", {"scope_id": "s1", "privacy_level": privacy, "title": "t"})
        assert response.status_code == 201, response.content
        return response.json()["thread_id"]

    def join(self, thread_id: str) -> None:
        assert self.post(f"/v1/chat/threads/{thread_id}/join").status_code in (200, 201)

    def send(self, thread_id: str, body: str = "hello") -> dict[str, Any]:
        response = self.post(f"/v1/chat/threads/{thread_id}/messages/send", {"body": body, "attachments": []})
        assert response.status_code == 201, response.content
        return response.json()

    def messages(self, thread_id: str) -> list[dict[str, Any]]:
        response = self.get(f"/v1/chat/threads/{thread_id}/messages")
        assert response.status_code == 200, response.content
        body = response.json()
        return body["messages"] if isinstance(body, dict) else body

    def contribution(self) -> dict[str, Any]:
        response = self.post("/v1/contributions", {"title": "Fixed the pump", "contribution_type": "community_service"})
        assert response.status_code == 201, response.content
        return response.json()


@pytest.fixture
def make_user(api: Client):
    def make(username: str = "ana", role: str | None = None) -> User:
        response = api.post(
            "/v1/auth/signup",
            {"email": f"{username}@example.com", "username": username, "password": PASSWORD},
            content_type="application/json",
        )
        assert response.status_code == 201, response.content
        user = User(Client(), response.json())
        return user.promote(role) if role else user

    return make


def ledger_count() -> int:
    return run_sync(ModerationRepository().ledger_count)


def decision(content_id: str, content_type: str = "chat_message", **overrides: Any) -> dict[str, Any]:
    body = {
        "content_id": content_id,
        "content_type": content_type,
        "moderation_status": "rejected",
        "moderation_action": "block",
        "reason_code": "harassment",
        "confidence": 0.9,
    }
    body.update(overrides)
    return body


def hold(content_id: str, content_type: str = "chat_message", **overrides: Any) -> dict[str, Any]:
    return decision(
        content_id,
        content_type,
        moderation_status="under_review",
        moderation_action="hold_for_review",
        hold_duration_minutes=60,
        **overrides,
    )
