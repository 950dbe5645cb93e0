"""Request/response shapes of the auth API (validation at the edge, documented in OpenAPI).

One serializer per operation (issue 13): the class that parses a request body is the one
drf-spectacular publishes. What the fields cannot say themselves is stated next to them:
the accepted aliases (``pass``, ``refresh``) stay out of the document (``exclude_fields``),
and the body is published as demanding the canonical key (``openapi_extra``), so a
schema-valid request never lacks the password or the token.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.validators import ProhibitNullCharactersValidator, RegexValidator
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from apps.core.openapi import DocumentedSerializer

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
# Django's CharField refuses NUL characters; the documented schema says so too.
NO_NUL = r"^[^\x00]*$"


class StrictCharField(serializers.CharField):
    """A string field that refuses numbers and booleans (DRF would coerce them silently)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class PatternText(StrictCharField):
    """A ``StrictCharField`` whose NUL check is a regex, so drf-spectacular publishes it as ``pattern``.

    DRF's ``CharField`` refuses NUL with Django's ``ProhibitNullCharactersValidator``, which the
    document cannot show. A ``RegexValidator`` with the same message and code takes its place in the
    list, so the answers (and their order when several checks fail) stay what they were. The regex
    must refuse nothing but NUL once the earlier checks passed (true of ``NO_NUL``).
    """

    def __init__(self, pattern: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        nul = RegexValidator(
            pattern, message=ProhibitNullCharactersValidator.message, code=ProhibitNullCharactersValidator.code
        )
        self.validators = [nul if isinstance(v, ProhibitNullCharactersValidator) else v for v in self.validators]


class StrictEmailField(serializers.EmailField):
    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data).lower()


def password_field(**kwargs: Any) -> PatternText:
    """A new password: 8..256 characters, kept as typed (no trimming)."""
    return PatternText(NO_NUL, min_length=8, max_length=256, trim_whitespace=False, **kwargs)


# No docstrings on the request serializers below unless meant for the document: drf-spectacular
# publishes a request serializer's docstring as its component's description.


@extend_schema_serializer(exclude_fields=["pass"])
class SignupSerializer(DocumentedSerializer):
    """The documented sign-up body: ``password`` required (the accepted alias ``pass`` is left out of the
    schema, so a schema-valid request never lacks the password)."""

    # ``password`` is optional to the fields (``pass`` may stand in for it, checked in ``validate``),
    # required in the document.
    openapi_extra = {"required": ["email", "password", "username"]}
    email = StrictEmailField(max_length=254)
    username = StrictCharField(
        min_length=3,
        max_length=64,
        validators=[RegexValidator(USERNAME_RE, "may contain only letters, digits, '_', '.' and '-'")],
    )
    password = password_field(required=False, help_text="8..256 characters (alias: `pass`).")
    # No field default: it would be published; ``validate`` puts "default" in place of a missing or null id.
    community_id = PatternText(NO_NUL, min_length=1, max_length=64, required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        password = attrs.pop("password", None)
        alias = attrs.pop("pass", None)
        if password is None and alias is None:
            raise serializers.ValidationError({"password": ["This field is required."]})
        attrs["password"] = password if password is not None else alias
        if not attrs.get("community_id"):
            attrs["community_id"] = "default"
        return attrs


# `pass` is a Python keyword, so the alias is declared outside the class body.
SignupSerializer._declared_fields["pass"] = password_field(required=False, help_text="Alias of `password`.")


class SigninSerializer(serializers.Serializer):
    email = StrictEmailField(max_length=254)
    password = PatternText(NO_NUL, min_length=1, max_length=256, trim_whitespace=False)


@extend_schema_serializer(exclude_fields=["refresh"])
class RefreshSerializer(DocumentedSerializer):
    """The documented refresh body: ``refresh_token`` required (alias ``refresh`` accepted, not documented)."""

    openapi_extra = {"required": ["refresh_token"]}  # optional to the field: ``refresh`` may stand in for it
    # No trimming: a token is opaque; " " is a wrong token (401), not a missing field (400).
    refresh_token = PatternText(
        NO_NUL,
        required=False,
        max_length=4096,
        trim_whitespace=False,
        help_text="The refresh token (alias: `refresh`).",
    )
    refresh = PatternText(
        NO_NUL, required=False, max_length=4096, trim_whitespace=False, help_text="Alias of `refresh_token`."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        token = attrs.get("refresh_token") or attrs.get("refresh")
        if not token:
            raise serializers.ValidationError({"refresh_token": ["This field is required."]})
        return {"refresh_token": token}


class TokenPairSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    user_id = serializers.CharField()
    username = serializers.CharField()
    role = serializers.ChoiceField(choices=["user", "moderator", "admin", "system"])
    expires_at_ms = serializers.IntegerField(help_text="Access token expiry, epoch milliseconds.")


class MeSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    username = serializers.CharField()
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=["user", "moderator", "admin", "system"])
    community_id = serializers.CharField()
    created_at_ms = serializers.IntegerField()


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField(required=False)


class ErrorEnvelopeSerializer(serializers.Serializer):
    """``{"error": {code, message, details?}}`` — every error answer (01-api-conventions.md)."""

    error = ErrorBodySerializer()
