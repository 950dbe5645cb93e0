"""API conventions of 01-api-conventions.md: envelope, ids, 404/405/413/415/500/503, OpenAPI."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

pytestmark = pytest.mark.urls("tests.core.urls_for_tests")


def assert_envelope(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    return body["error"]


@pytest.fixture
def client() -> Client:
    return Client(raise_request_exception=False)


class TestRequestAndCorrelationIds:
    def test_generated_as_hyphenated_uuid7_when_absent(self, client):
        response = client.get("/health")
        assert UUID7.match(response["X-Request-ID"])
        assert UUID7.match(response["X-Correlation-ID"])
        assert response["X-Request-ID"] != response["X-Correlation-ID"]

    def test_echoed_when_given(self, client):
        response = client.get("/health", HTTP_X_REQUEST_ID="req-1", HTTP_X_CORRELATION_ID="journey-9")
        assert response["X-Request-ID"] == "req-1"
        assert response["X-Correlation-ID"] == "journey-9"

    def test_echoed_on_errors_too(self, client):
        response = client.get("/no/such/route", HTTP_X_REQUEST_ID="req-404")
        assert response.status_code == 404
        assert response["X-Request-ID"] == "req-404"

    @pytest.mark.parametrize("header", ["HTTP_X_REQUEST_ID", "HTTP_X_CORRELATION_ID"])
    @pytest.mark.parametrize("value", ["", "x" * 129, "has space", "tab\there", "ünïcode"])
    def test_invalid_ids_are_refused_with_400(self, client, header, value):
        response = client.get("/health", **{header: value})
        error = assert_envelope(response, 400, "validation_error")
        assert error["message"].startswith("validation failed: ")
        assert UUID7.match(response["X-Request-ID"]) or response["X-Request-ID"] != value

    def test_128_visible_characters_are_accepted(self, client):
        value = "a" * 127 + "~"
        assert client.get("/health", HTTP_X_REQUEST_ID=value)["X-Request-ID"] == value


class TestErrorEnvelope:
    def test_unknown_route_is_404_envelope(self, client):
        error = assert_envelope(client.get("/v1/nothing-here"), 404, "not_found")
        assert "/v1/nothing-here" in error["message"]

    def test_unknown_page_for_a_browser_is_an_html_page(self, client):
        response = client.get("/nothing-here", HTTP_ACCEPT="text/html")
        assert response.status_code == 404
        assert response["Content-Type"].startswith("text/html")

    def test_wrong_method_is_405_envelope_with_allow(self, client):
        response = client.delete("/health")
        assert_envelope(response, 405, "method_not_allowed")
        assert "GET" in response["Allow"]

    def test_wrong_method_on_an_api_view_is_405_envelope(self, client):
        assert_envelope(client.get("/v1/_test/echo"), 405, "method_not_allowed")

    def test_malformed_json_is_400(self, client):
        response = client.post("/v1/_test/echo", data='{"name": ', content_type="application/json")
        error = assert_envelope(response, 400, "validation_error")
        assert error["message"].startswith("validation failed: ")
        assert "body" in error["details"]["fields"]

    @pytest.mark.parametrize("body", ["[1, 2]", '"text"', "42", "null"])
    def test_json_that_is_not_an_object_is_400(self, client, body):
        response = client.post("/v1/_test/echo", data=body, content_type="application/json")
        assert_envelope(response, 400, "validation_error")

    def test_missing_and_wrongly_typed_fields_are_listed(self, client):
        response = client.post("/v1/_test/echo", data={"count": "many"}, content_type="application/json")
        error = assert_envelope(response, 400, "validation_error")
        assert set(error["details"]["fields"]) == {"name", "count"}
        assert error["message"].startswith("validation failed: ")

    def test_nul_characters_in_the_query_are_refused(self, client):
        error = assert_envelope(client.get("/v1/_test/echo?x=a%00b"), 400, "validation_error")
        assert "query" in error["details"]["fields"]

    def test_wrong_content_type_is_415(self, client):
        response = client.post("/v1/_test/echo", data="name=a", content_type="application/x-www-form-urlencoded")
        assert_envelope(response, 415, "unsupported_media_type")

    def test_oversized_body_is_413_before_reading(self, client, settings):
        limit = settings.CONFIG.max_body_bytes
        body = json.dumps({"name": "a", "count": 1, "pad": "x" * limit})
        response = client.post("/v1/_test/echo", data=body, content_type="application/json")
        error = assert_envelope(response, 413, "payload_too_large")
        assert error["details"]["limit_bytes"] == limit

    def test_a_body_without_content_length_over_the_limit_is_413(self, settings):
        """Chunked bodies have no Content-Length: Django's read limit raises, the envelope says 413."""
        from django.core.exceptions import RequestDataTooBig

        from apps.core.api import as_app_error

        error = as_app_error(RequestDataTooBig())
        assert (error.status, error.code) == (413, "payload_too_large")
        assert error.details == {"limit_bytes": settings.DATA_UPLOAD_MAX_MEMORY_SIZE}

    def test_valid_request_passes_the_conventions(self, client):
        response = client.post("/v1/_test/echo", data={"name": "ok", "count": 2}, content_type="application/json")
        assert response.status_code == 201
        assert response.json() == {"name": "ok", "count": 2}

    def test_unexpected_error_is_500_without_internals(self, client, caplog):
        response = client.get("/v1/_test/crash")
        error = assert_envelope(response, 500, "internal_error")
        assert "passwd" not in response.content.decode()
        assert "Traceback" not in response.content.decode()
        assert error["message"] == "internal error"
        assert any("unhandled error" in r.getMessage() for r in caplog.records)

    def test_database_down_is_503_with_retry_after(self, client):
        response = client.get("/v1/_test/db-down")
        assert_envelope(response, 503, "unavailable")
        assert int(response["Retry-After"]) >= 1


class TestOpenApi:
    def test_schema_is_an_openapi_3_document(self, client):
        response = client.get("/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
        assert response.status_code == 200
        document = json.loads(response.content)
        assert document["openapi"].startswith("3.")
        assert document["info"]["title"] == "Gotong Royong API"

    def test_docs_page_is_served_without_external_assets(self, client):
        response = client.get("/v1/docs/")
        assert response.status_code == 200
        html = response.content.decode()
        assert "swagger" in html.lower()
        assert "cdn.jsdelivr" not in html
        assert "unpkg.com" not in html


class TestSecurityHeaders:
    def test_csp_admits_the_s3_origin_for_direct_uploads_and_thumbnails(self, client, settings):
        import dataclasses

        settings.CONFIG = dataclasses.replace(settings.CONFIG, s3_endpoint="https://s3.example.org:9000")
        csp = client.get("/health")["Content-Security-Policy"]
        assert "connect-src 'self' https://s3.example.org:9000;" in csp
        assert "img-src 'self' data: blob: https://s3.example.org:9000;" in csp
        assert "script-src 'self';" in csp

    def test_pages_carry_csp_nosniff_and_referrer_policy(self, client):
        response = client.get("/health")
        assert "default-src 'self'" in response["Content-Security-Policy"]
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
