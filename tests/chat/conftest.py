"""Chat test helpers: users through the real sign-up API, JSON calls with Bearer tokens."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from apps.core import ratelimit
from gotong.config import RateLimit
from tests.evidence.fixtures import backend, local_storage, s3_storage  # noqa: F401 (storage backends)
from tests.support.db_spy import spy_round_trips

PASSWORD = "correct horse battery"


@dataclass
class User:
    user_id: str
    username: str
    token: str
    refresh: str

    @property
    def headers(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token}"}

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Api:
    def __init__(self, client: Client) -> None:
        self.client = client

    def call(self, method: str, path: str, user: User | None = None, body: Any = None, **headers: str):
        extra = dict(user.headers if user else {}, **headers)
        if body is None:
            return getattr(self.client, method)(path, **extra)
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        return getattr(self.client, method)(path, data=data, content_type="application/json", **extra)

    def signup(self, name: str) -> User:
        response = self.call(
            "post", "/v1/auth/signup", body={"email": f"{name}@example.com", "username": name, "password": PASSWORD}
        )
        assert response.status_code == 201, response.content
        data = response.json()
        return User(data["user_id"], name, data["access_token"], data["refresh_token"])

    def thread(self, user: User, privacy: str = "public", scope: str = "s1", title: str = "t") -> dict:
        response = self.call(
            "post", "/v1/chat/threads", user, {"scope_id": scope, "privacy_level": privacy, "title": title}
        )
        assert response.status_code == 201, response.content
        return response.json()

    def send(self, user: User, thread_id: str, body: str = "hi", request_id: str | None = None):
        headers = {"HTTP_X_REQUEST_ID": request_id} if request_id else {}
        return self.call("post", f"/v1/chat/threads/{thread_id}/messages/send", user, {"body": body}, **headers)


@pytest.fixture(autouse=True)
def _generous_chat_limits():
    ratelimit.overrides["chat_send"] = RateLimit(100_000, 1, 100_000)


@pytest.fixture
def round_trips(monkeypatch) -> list[str]:
    """The ``operation`` of every database round trip made while the fixture is active (each counted once:
    ``tests/support/db_spy.spy_round_trips``)."""
    return spy_round_trips(monkeypatch)


@pytest.fixture
def chat(api: Client) -> Api:
    return Api(api)
