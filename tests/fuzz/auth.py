"""Schemathesis hooks: sign every fuzzed request in as one account (``hooks`` in tests/fuzz/schemathesis.toml).

Set ``GOTONG_FUZZ_BASE``, ``GOTONG_FUZZ_EMAIL`` and ``GOTONG_FUZZ_PASSWORD``. The token is
fetched by signing in, and fetched again after any 401: the fuzzer itself calls
``/v1/auth/logout``, which revokes the sign-in it was using.
"""

from __future__ import annotations

import os

import httpx
import schemathesis


@schemathesis.auth()
class SignedIn:
    def get(self, case, context) -> str:
        response = httpx.post(
            f"{os.environ['GOTONG_FUZZ_BASE']}/v1/auth/signin",
            json={"email": os.environ["GOTONG_FUZZ_EMAIL"], "password": os.environ["GOTONG_FUZZ_PASSWORD"]},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()["access_token"]

    def set(self, case, data: str, context) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}
