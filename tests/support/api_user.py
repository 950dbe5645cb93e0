"""A signed-up user calling the JSON API through Django's test client (shared by the test packages)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.test import Client


class ApiUser:
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
