"""The API edge: error envelope rendering and DRF glue.

Every error answer of the project is built by ``error_response`` so the
envelope of ``01-api-conventions.md`` has one implementation.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser

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
    """Run a serializer over request data; raises ``ValidationFailed`` with the envelope's shape.

    Without ``kwargs`` (no context), the thread's one instance of the class validates (``_validator``):
    DRF builds a serializer's fields by deep-copying the declared ones for every new instance, 120 of the
    185 µs that validating a chat send took (issue 14 point 3); reusing the bound fields takes 21 µs.
    ``run_validation`` is what ``is_valid`` runs, and raises the same error details.
    """
    if not isinstance(data, dict):
        raise ValidationFailed.for_fields({"body": ["must be a JSON object"]})
    serializer = None if kwargs else _validator(serializer_class)
    if serializer is None:  # with a context, or the thread's instance is busy (a validation inside a validation)
        serializer = serializer_class(data=data, **kwargs)
        if not serializer.is_valid():
            raise validation_error_from(serializer.errors)
        return dict(serializer.validated_data)
    serializer.initial_data = data  # some validate() methods read it, as after serializer_class(data=...)
    try:
        return dict(serializer.run_validation(data))
    except drf.ValidationError as exc:
        raise validation_error_from(exc.detail) from None
    finally:
        del serializer.initial_data


_validators = threading.local()


def _validator(serializer_class: type[serializers.Serializer]) -> serializers.Serializer | None:
    """This thread's idle instance of ``serializer_class`` (its fields bound once), or None while it validates.

    Safe to share within a thread because validation never awaits: a request's validation runs to the end
    before another request's can start on the same event loop. Each thread (Django's sync-to-async pool,
    the workers) has its own instances.
    """
    instances = getattr(_validators, "instances", None)
    if instances is None:
        instances = _validators.instances = {}
    serializer = instances.get(serializer_class)
    if serializer is None:
        serializer = instances[serializer_class] = serializer_class()
    return None if hasattr(serializer, "initial_data") else serializer


# -- request bodies -------------------------------------------------------------------

MAX_JSON_DEPTH = 64


class BodyRefused(drf.ParseError):
    """A JSON body that parses but must never reach a view (too deep, lone surrogate)."""


def _refuse(message: str) -> BodyRefused:
    return BodyRefused(f"JSON parse error - {message}")


def check_json_value(value: Any, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Walk a parsed body without recursion: nesting depth, and lone surrogates in every string and key.

    Why here: ``json.loads`` accepts ``"\\ud83d"`` (a lone surrogate), which then crashes every
    later ``.encode()`` (idempotency hash, database driver, logs) before any validation runs.
    NUL (``"\\u0000"``) is deliberately not refused here: the embedded engine stores and compares
    it faithfully (measured), every text field refuses it already (DRF's ``CharField`` and the
    services' own checks), and refusing it in free-form objects or unknown fields would contradict
    the published schema (the OpenAPI fuzz sends such bodies as valid).
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise _refuse(f"nested deeper than {max_depth} levels")
            if isinstance(item, dict):
                for key, child in item.items():
                    _check_text(key)
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _refuse("strings must be valid Unicode (lone surrogate escape)") from None


def parse_json_body(raw: bytes) -> Any:
    """Strict JSON for request bodies: UTF-8 only, no NaN/Infinity, depth <= ``MAX_JSON_DEPTH``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refuse(f"body is not valid UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(text, parse_constant=json_strict_constant)
    except RecursionError:
        # The C scanner gives up long before the stack does; deeper than the limit anyway.
        raise _refuse(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:
        raise _refuse(str(exc)[:200]) from None
    check_json_value(value)
    return value


def json_strict_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


class StrictJSONParser(JSONParser):
    """The API's only JSON parser (``DEFAULT_PARSER_CLASSES``): every endpoint family gets the limits.

    DRF's own parser recurses without a limit (RecursionError → 500 at ~1,000 levels) and hands
    lone surrogates through to code that encodes them. Errors become ``ParseError`` so the
    exception handler answers 400 ``validation_error``.
    """

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        encoding = get_charset(parser_context)
        if encoding not in ("utf-8", "utf8"):
            raise _refuse(f'charset "{encoding}" is not supported; send UTF-8')
        return parse_json_body(stream.read() if stream is not None else b"")


def get_charset(parser_context: dict[str, Any] | None) -> str:
    request = (parser_context or {}).get("request")
    media_type = getattr(request, "content_type", "") or ""
    for param in media_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return "utf-8"


class CommonAcceptNegotiation(DefaultContentNegotiation):
    """DRF's content negotiation, with the answer to the common request found without parsing ``Accept``.

    Nearly every API request sends no ``Accept``, ``*/*`` or ``application/json`` and no ``?format=``: DRF then
    picks the first renderer with its own media type. That is answered here directly; every other request goes
    through DRF's rules unchanged (a ``text/html`` only client is still refused). DRF's parse of the header and
    its walk over the renderers was about 30 us of a send (issue 14).
    """

    def select_renderer(self, request, renderers, format_suffix=None):  # type: ignore[no-untyped-def]
        first = renderers[0]
        accept = request.META.get("HTTP_ACCEPT", "*/*")
        if (
            (accept == "*/*" or accept == first.media_type)
            and format_suffix is None
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return first, first.media_type
        return super().select_renderer(request, renderers, format_suffix)
