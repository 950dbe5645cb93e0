"""Accounts test helpers: sign-up through the real API."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

PASSWORD = "correct horse battery"


def post_json(client: Client, path: str, body: Any, **headers: str):
    return client.post(path, data=json.dumps(body), content_type="application/json", **headers)


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def signup(api: Client):
    """Create a user through POST /v1/auth/signup; returns the JSON answer."""

    def make(email: str = "ana@example.com", username: str = "ana", password: str = PASSWORD) -> dict[str, Any]:
        response = post_json(api, "/v1/auth/signup", {"email": email, "username": username, "password": password})
        assert response.status_code == 201, response.content
        return response.json()

    return make
