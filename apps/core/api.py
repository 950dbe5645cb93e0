"""The API edge: error envelope rendering and DRF glue.

Every error answer of the project is built by ``error_response`` so the
envelope of ``01-api-conventions.md`` has one implementation.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework import serializers

from apps.core.errors import (
    AppError,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
    envelope,
)

log = logging.getLogger("gotong.api")


def error_response(error: AppError) -> JsonResponse:
    if error.status >= 500:
        log.error("request failed", extra={"error_code": error.code, "status": error.status})
    response = JsonResponse(envelope(error.code, error.message, error.details), status=error.status)
    for name, value in error.headers().items():
        response[name] = value
    return response


def _flatten(detail: Any) -> list[str]:
    if isinstance(detail, dict):
        return [f"{k}: {m}" for k, v in detail.items() for m in _flatten(v)]
    if isinstance(detail, list):
        return [m for item in detail for m in _flatten(item)]
    return [str(detail)]


def validation_error_from(detail: Any) -> ValidationFailed:
    """DRF serializer errors → ``validation_error`` with ``details.fields``."""
    if isinstance(detail, dict):
        fields = {str(k): _flatten(v) for k, v in detail.items()}
    else:
        fields = {"non_field_errors": _flatten(detail)}
    return ValidationFailed.for_fields(fields or {"non_field_errors": ["invalid"]})


def as_app_error(exc: BaseException) -> AppError:
    """Classify any exception raised while handling a request."""
    if isinstance(exc, AppError):
        return exc
    if isinstance(exc, RequestDataTooBig):
        from django.conf import settings

        return PayloadTooLarge(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if isinstance(exc, drf.ParseError):
        return ValidationFailed.for_fields({"body": [f"malformed JSON: {_short(exc)}"]})
    if isinstance(exc, drf.ValidationError):
        return validation_error_from(exc.detail)
    if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
        return Unauthorized(str(exc.detail))
    if isinstance(exc, drf.PermissionDenied):
        return Forbidden(str(exc.detail))
    if isinstance(exc, (drf.NotFound, Http404)):
        return NotFound()
    if isinstance(exc, drf.MethodNotAllowed):
        return MethodNotAllowed(str(exc.detail))
    if isinstance(exc, drf.UnsupportedMediaType):
        return UnsupportedMediaType(str(exc.detail))
    if isinstance(exc, drf.NotAcceptable):
        return ValidationFailed.for_fields({"Accept": [str(exc.detail)]})
    if isinstance(exc, drf.Throttled):
        return RateLimited(int(exc.wait or 1))
    log.exception("unhandled error", exc_info=exc)
    return AppError()


def _short(exc: drf.ParseError) -> str:
    text = str(exc.detail)
    return text.split(" - ", 1)[-1][:200]


def exception_handler(exc: Exception, context: dict[str, Any]) -> JsonResponse:
    """DRF ``EXCEPTION_HANDLER``: every error through the envelope, never a stack trace."""
    if isinstance(exc, RequestDataTooBig) or (
        isinstance(exc, drf.ParseError) and isinstance(exc.__cause__, RequestDataTooBig)
    ):
        return error_response(as_app_error(RequestDataTooBig()))
    response = error_response(as_app_error(exc))
    if response.status_code == 401 and context.get("view") is not None:
        # Tell clients which scheme to use, as DRF's own handler would.
        challenge = context["view"].get_authenticate_header(context["request"])
        if challenge:
            response["WWW-Authenticate"] = challenge
    return response


def validated(serializer_class: type[serializers.Serializer], data: Any, **kwargs: Any) -> dict[str, Any]:
    """Run a serializer over request data; raises ``ValidationFailed`` with the envelope's shape."""
    if not isinstance(data, dict):
        raise ValidationFailed.for_fields({"body": ["must be a JSON object"]})
    serializer = serializer_class(data=data, **kwargs)
    if not serializer.is_valid():
        raise validation_error_from(serializer.errors)
    return dict(serializer.validated_data)
