"""Request/response shapes of the auth API (validation at the edge, documented in OpenAPI)."""

from __future__ import annotations

import re
from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
# Django's CharField refuses NUL characters; the documented schema says so too.
NO_NUL = r"^[^\x00]*$"


class StrictCharField(serializers.CharField):
    """A string field that refuses numbers and booleans (DRF would coerce them silently)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictEmailField(serializers.EmailField):
    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data).lower()


def password_field(**kwargs: Any) -> StrictCharField:
    return StrictCharField(min_length=8, max_length=256, trim_whitespace=False, write_only=True, **kwargs)


class SignupSerializer(serializers.Serializer):
    email = StrictEmailField(max_length=254)
    username = StrictCharField(
        min_length=3,
        max_length=64,
        validators=[RegexValidator(USERNAME_RE, "may contain only letters, digits, '_', '.' and '-'")],
    )
    password = password_field(required=False, help_text="8..256 characters; `pass` is accepted as an alias.")
    community_id = StrictCharField(min_length=1, max_length=64, required=False, allow_null=True, default="default")

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
    password = StrictCharField(min_length=1, max_length=256, trim_whitespace=False, write_only=True)


class RefreshSerializer(serializers.Serializer):
    # No trimming: a token is opaque; " " is a wrong token (401), not a missing field (400).
    refresh_token = StrictCharField(
        required=False, max_length=4096, trim_whitespace=False, help_text="`refresh` is accepted as an alias."
    )
    refresh = StrictCharField(
        required=False, max_length=4096, trim_whitespace=False, help_text="Alias of `refresh_token`."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        token = attrs.get("refresh_token") or attrs.get("refresh")
        if not token:
            raise serializers.ValidationError({"refresh_token": ["This field is required."]})
        return {"refresh_token": token}


@extend_schema_serializer(component_name="Signup")
class SignupRequestDoc(serializers.Serializer):
    """The documented sign-up body: ``password`` required (the accepted alias ``pass`` is left out of the
    schema, so a schema-valid request never lacks the password)."""

    email = serializers.EmailField(max_length=254)
    username = serializers.RegexField(USERNAME_RE.pattern, min_length=3, max_length=64)
    password = serializers.RegexField(
        NO_NUL, min_length=8, max_length=256, help_text="8..256 characters (alias: `pass`)."
    )
    community_id = serializers.RegexField(NO_NUL, min_length=1, max_length=64, required=False, allow_null=True)


@extend_schema_serializer(component_name="Refresh")
class RefreshRequestDoc(serializers.Serializer):
    """The documented refresh body: ``refresh_token`` required (alias ``refresh`` accepted, not documented)."""

    refresh_token = serializers.RegexField(
        NO_NUL, min_length=1, max_length=4096, help_text="The refresh token (alias: `refresh`)."
    )


@extend_schema_serializer(component_name="Signin")
class SigninRequestDoc(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.RegexField(NO_NUL, min_length=1, max_length=256)


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
