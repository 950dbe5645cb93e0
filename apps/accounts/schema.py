"""OpenAPI description of ``GotongAuthentication`` (Bearer JWT or the gr_session cookie)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class GotongAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "apps.accounts.authentication.GotongAuthentication"
    name = ["bearerAuth", "cookieAuth"]

    def get_security_requirement(self, auto_schema):
        # A list means "either": a Bearer token or the session cookie, not both.
        return [{"bearerAuth": []}, {"cookieAuth": []}]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            {"type": "apiKey", "in": "cookie", "name": "gr_session"},
        ]
