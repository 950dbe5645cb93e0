"""Schema-driven fuzzing of the whole /v1/ API: no 500s, every answer matches the OpenAPI document.

Schemathesis generates valid and invalid requests from /v1/schema/ and checks
each response (status code documented, body conforms to its schema, content
type). Rate limits are lifted for the run: the fuzzer sends far more sign-in
attempts than a person could.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from apps.core import ratelimit
from gotong.config import RateLimit

schema = schemathesis.openapi.from_wsgi("/v1/schema/?format=json", get_wsgi_application())


@pytest.fixture(autouse=True)
def _no_rate_limits():
    unlimited = RateLimit(1_000_000, 1, 1_000_000)
    for bucket in ("default", "auth_ip", "auth_email"):
        ratelimit.overrides[bucket] = unlimited


@pytest.fixture
def bearer(api) -> dict[str, str]:
    """A signed-in user, so authenticated operations are fuzzed past the 401."""
    response = api.post(
        "/v1/auth/signup",
        {"email": "fuzz@example.com", "username": "fuzzer", "password": "correct horse battery"},
        content_type="application/json",
    )
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


# Operations whose valid requests depend on more than the schema can say: an upload must carry the
# bytes of a real image/video/audio file, so random "schema-valid" bytes are rightly refused (400).
CONTENT_SNIFFED = {"chat_attachment_upload"}


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "40")), deadline=None, suppress_health_check=list(HealthCheck)
)
def test_api_conforms_to_its_openapi_document(case, bearer):
    excluded = [positive_data_acceptance] if case.operation.definition.raw.get("operationId") in CONTENT_SNIFFED else []
    case.call_and_validate(headers=bearer if case.operation.security else None, excluded_checks=excluded)
