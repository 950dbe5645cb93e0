"""Evidence test helpers: users through the real API, storage backends, generated images."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from tests.support.api_user import ApiUser

PASSWORD = "correct horse battery"


def rfc3339(delta: timedelta = timedelta(0)) -> str:
    return (datetime.now(UTC) + delta).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class User(ApiUser):
    """A signed-up user with a Bearer token, calling the API through Django's test client."""

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
