"""Evidence test helpers: users through the real API, storage backends, generated images."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

PASSWORD = "correct horse battery"


def rfc3339(delta: timedelta = timedelta(0)) -> str:
    return (datetime.now(UTC) + delta).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class User:
    """A signed-up user with a Bearer token, calling the API through Django's test client."""

    def __init__(self, client: Client, data: dict[str, Any]) -> None:
        self.client = client
        self.user_id = data["user_id"]
        self.username = data["username"]
        self.token = data["access_token"]

    def headers(self, request_id: str | None = None) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token}", "HTTP_X_REQUEST_ID": request_id or str(uuid.uuid4())}

    def post(self, path: str, body: Any = None, *, request_id: str | None = None):
        data = None if body is None else json.dumps(body)
        return self.client.post(path, data=data, content_type="application/json", **self.headers(request_id))

    def get(self, path: str, **params: Any):
        return self.client.get(path, params, **self.headers())

    def contribution(self, **overrides: Any) -> dict[str, Any]:
        body = {"title": "Fixed the well pump", "contribution_type": "community_service", **overrides}
        response = self.post("/v1/contributions", body)
        assert response.status_code == 201, response.content
        return response.json()


@pytest.fixture
def make_user(api: Client):
    def make(username: str = "ana") -> User:
        response = api.post(
            "/v1/auth/signup",
            {"email": f"{username}@example.com", "username": username, "password": PASSWORD},
            content_type="application/json",
        )
        assert response.status_code == 201, response.content
        return User(Client(), response.json())

    return make


@pytest.fixture
def ana(make_user) -> User:
    return make_user("ana")


@pytest.fixture
def budi(make_user) -> User:
    return make_user("budi")


from tests.evidence.fixtures import backend, local_storage, s3_storage  # noqa: E402, F401
