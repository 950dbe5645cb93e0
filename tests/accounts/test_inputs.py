"""One validator per operation (issue 13): the serializer that parses an auth request body is the published one.

The documentation-only serializers of sign-up, sign-in and refresh were merged into the validating ones.
This file pins what that merge must keep: the document's component of each body comes from the class the
view parses with, the published request schemas are the ones documented before (aliases still left out,
the canonical key still required), and the answers keep their words and their order.
"""

from __future__ import annotations

from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator

from apps.accounts import api as views
from apps.accounts import serializers as s
from tests.accounts.conftest import PASSWORD, post_json
from tests.support.openapi_inputs import component_name, request_bodies, spy_on_validated

NUL = "^[^\\u0000]*$"
NUL_REFUSED = "Null characters are not allowed."
REQUIRED = "This field is required."

# operationId → (path, the serializer that parses the body, the aliases it accepts but does not publish).
REQUEST_BODIES: dict[str, tuple[str, type, set[str]]] = {
    "auth_signup": ("/v1/auth/signup", s.SignupSerializer, {"pass"}),
    "auth_signin": ("/v1/auth/signin", s.SigninSerializer, set()),
    "auth_refresh": ("/v1/auth/refresh", s.RefreshSerializer, {"refresh"}),
}

# The request schemas as the documentation-only serializers published them before the merge.
PUBLISHED = {
    "SignupRequest": {
        "type": "object",
        "description": (
            "The documented sign-up body: ``password`` required (the accepted alias ``pass`` is left out of the\n"
            "schema, so a schema-valid request never lacks the password)."
        ),
        "properties": {
            "email": {"type": "string", "format": "email", "minLength": 1, "maxLength": 254},
            "username": {"type": "string", "minLength": 3, "maxLength": 64, "pattern": "^[A-Za-z0-9_.-]+$"},
            "password": {
                "type": "string",
                "minLength": 8,
                "maxLength": 256,
                "pattern": NUL,
                "description": "8..256 characters (alias: `pass`).",
            },
            "community_id": {"type": "string", "nullable": True, "minLength": 1, "maxLength": 64, "pattern": NUL},
        },
        "required": ["email", "password", "username"],
    },
    "SigninRequest": {
        "type": "object",
        "properties": {
            "email": {"type": "string", "format": "email", "minLength": 1, "maxLength": 254},
            "password": {"type": "string", "minLength": 1, "maxLength": 256, "pattern": NUL},
        },
        "required": ["email", "password"],
    },
    "RefreshRequest": {
        "type": "object",
        "description": (
            "The documented refresh body: ``refresh_token`` required (alias ``refresh`` accepted, not documented)."
        ),
        "properties": {
            "refresh_token": {
                "type": "string",
                "minLength": 1,
                "maxLength": 4096,
                "pattern": NUL,
                "description": "The refresh token (alias: `refresh`).",
            },
        },
        "required": ["refresh_token"],
    },
}


@pytest.fixture(scope="module")
def generated() -> tuple[dict, SchemaGenerator]:
    generator = SchemaGenerator()
    return generator.get_schema(request=None, public=True), generator


def test_every_auth_operation_with_a_body_is_listed(generated):
    """A new operation (or one published from another class) must be added to the table, so it is checked."""
    assert set(request_bodies(generated[0], "/v1/auth/")) == set(REQUEST_BODIES)


@pytest.mark.parametrize(("operation_id", "expected"), REQUEST_BODIES.items(), ids=list(REQUEST_BODIES))
def test_each_body_is_published_as_its_validator(generated, operation_id, expected):
    document, generator = generated
    _, serializer, aliases = expected
    name = component_name(serializer)
    body = request_bodies(document, "/v1/auth/")[operation_id]
    assert body["required"] is True
    assert body["content"] == {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}
    # The component was built from the validating class itself, not from a look-alike with the same name.
    source = generator.registry._components[(name, "schemas")].object
    assert type(source) is serializer
    published = document["components"]["schemas"][name]["properties"]
    assert list(published) == [field for field in serializer().fields if field not in aliases]


def test_the_published_schemas_are_the_ones_documented_before_the_merge(generated):
    schemas = generated[0]["components"]["schemas"]
    assert {name: schemas[name] for name in PUBLISHED} == PUBLISHED


def test_every_view_parses_with_the_serializer_it_publishes(api, monkeypatch):
    used = spy_on_validated(monkeypatch, views)
    credentials = {"email": "ana@example.com", "password": PASSWORD}
    bodies = {
        "auth_signup": lambda: {**credentials, "username": "ana"},
        "auth_signin": lambda: credentials,
        "auth_refresh": lambda: {"refresh_token": issued["refresh_token"]},
    }
    issued: dict[str, Any] = {}  # the previous answer: refresh uses the token sign-in issued
    for operation_id, (path, serializer, _) in REQUEST_BODIES.items():
        used.clear()
        response = post_json(api, path, bodies[operation_id]())
        assert response.status_code in (200, 201), (operation_id, response.content)
        issued = response.json()
        assert used == [serializer], operation_id


def _refusal(client, path: str, body: dict[str, Any]) -> tuple[str, dict]:
    response = post_json(client, path, body)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    return error["message"], error["details"]["fields"]


def test_signup_messages(api):
    def refusal(**body: Any) -> tuple[str, dict]:
        return _refusal(api, "/v1/auth/signup", {"email": "ana@example.com", "username": "ana", **body})

    assert refusal() == ("validation failed: password: This field is required.", {"password": [REQUIRED]})
    # The alias is checked as its own field and answered under its own name.
    assert refusal(**{"pass": "short"})[1] == {"pass": ["Ensure this field has at least 8 characters."]}
    assert refusal(**{"pass": 12345678})[1] == {"pass": ["Not a valid string."]}
    # The published NUL pattern is the NUL check: DRF's words, after the length check, once.
    assert refusal(password="a\x00b") == (
        "validation failed: password: Ensure this field has at least 8 characters.",
        {"password": ["Ensure this field has at least 8 characters.", NUL_REFUSED]},
    )
    assert refusal(password=PASSWORD, community_id="c\x00") == (
        f"validation failed: community_id: {NUL_REFUSED}",
        {"community_id": [NUL_REFUSED]},
    )
    assert refusal(password=PASSWORD, community_id="")[1] == {"community_id": ["This field may not be blank."]}
    assert refusal(password=PASSWORD, username="bad name") == (
        "validation failed: username: may contain only letters, digits, '_', '.' and '-'",
        {"username": ["may contain only letters, digits, '_', '.' and '-'"]},
    )
    # Field errors first, in field order; the missing password is only reported once the fields pass.
    assert _refusal(api, "/v1/auth/signup", {}) == (
        "validation failed: email: This field is required.",
        {"email": [REQUIRED], "username": [REQUIRED]},
    )


def test_signup_alias_and_default_community(api):
    response = post_json(
        api, "/v1/auth/signup", {"email": "ana@example.com", "username": "ana", "pass": PASSWORD, "community_id": None}
    )
    assert response.status_code == 201, response.content
    me = api.get("/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {response.json()['access_token']}").json()
    assert me["community_id"] == "default"
    signin = post_json(api, "/v1/auth/signin", {"email": "ana@example.com", "password": PASSWORD})
    assert signin.status_code == 200, signin.content


def test_signin_messages_come_before_any_account_check(api, signup):
    signup()

    def refusal(**body: Any) -> tuple[str, dict]:
        return _refusal(api, "/v1/auth/signin", {"email": "ana@example.com", **body})

    assert refusal(password="a\x00b") == (f"validation failed: password: {NUL_REFUSED}", {"password": [NUL_REFUSED]})
    assert refusal(password="")[1] == {"password": ["This field may not be blank."]}
    assert refusal(password=12345678)[1] == {"password": ["Not a valid string."]}
    assert refusal(password="x" * 257)[1] == {"password": ["Ensure this field has no more than 256 characters."]}
    wrong = post_json(api, "/v1/auth/signin", {"email": "ANA@example.com", "password": " " + PASSWORD})
    assert wrong.status_code == 401  # the email is matched in lower case; the password is not trimmed


def test_refresh_messages(api, signup):
    token = signup()["refresh_token"]
    assert _refusal(api, "/v1/auth/refresh", {}) == (
        "validation failed: refresh_token: This field is required.",
        {"refresh_token": [REQUIRED]},
    )
    assert _refusal(api, "/v1/auth/refresh", {"refresh_token": "t\x00"})[1] == {"refresh_token": [NUL_REFUSED]}
    assert _refusal(api, "/v1/auth/refresh", {"refresh_token": ""})[1] == {
        "refresh_token": ["This field may not be blank."]
    }
    assert _refusal(api, "/v1/auth/refresh", {"refresh": 5})[1] == {"refresh": ["Not a valid string."]}
    assert post_json(api, "/v1/auth/refresh", {"refresh_token": " "}).status_code == 401  # opaque: not trimmed
    assert post_json(api, "/v1/auth/refresh", {"refresh": token}).status_code == 200
