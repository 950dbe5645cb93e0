"""Domain errors and their place in the API error envelope.

Services raise these; the edges (DRF exception handler, middleware, pages)
render them. Each class fixes the HTTP status and the envelope ``code`` of
``01-api-conventions.md`` so no view decides those by hand.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    status = 500
    code = "internal_error"
    default_message = "internal error"

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None) -> None:
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)

    def headers(self) -> dict[str, str]:
        return {}


class ValidationFailed(AppError):
    status = 400
    code = "validation_error"
    default_message = "validation failed"

    @classmethod
    def for_fields(cls, fields: dict[str, list[str]]) -> ValidationFailed:
        """``validation failed: <first problem>`` with every problem in ``details.fields``."""
        first_field, problems = next(iter(fields.items()))
        first = problems[0] if problems else "invalid"
        prefix = "" if first_field in ("non_field_errors", "body") else f"{first_field}: "
        return cls(f"validation failed: {prefix}{first}", details={"fields": fields})


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"
    default_message = "authentication required"


class Forbidden(AppError):
    status = 403
    code = "forbidden"
    default_message = "not allowed"


class NotFound(AppError):
    status = 404
    code = "not_found"
    default_message = "not found"


class MethodNotAllowed(AppError):
    status = 405
    code = "method_not_allowed"
    default_message = "method not allowed"


class Conflict(AppError):
    status = 409
    code = "conflict"
    default_message = "conflict"


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"
    default_message = "payload too large"

    def __init__(self, limit_bytes: int, message: str | None = None) -> None:
        super().__init__(message or f"payload exceeds {limit_bytes} bytes", details={"limit_bytes": limit_bytes})


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"
    default_message = "unsupported media type"


class EvidenceRejected(AppError):
    status = 422
    code = "evidence_rejected"
    default_message = "evidence rejected"


class RateLimited(AppError):
    status = 429
    code = "rate_limited"
    default_message = "too many requests"

    def __init__(self, retry_after_s: int) -> None:
        self.retry_after_s = max(1, int(retry_after_s))
        super().__init__(
            f"rate limit exceeded; retry after {self.retry_after_s} s",
            details={"retry_after_s": self.retry_after_s},
        )

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class Unavailable(AppError):
    status = 503
    code = "unavailable"
    default_message = "a dependency is unavailable; retry later"
    retry_after_s = 1

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


def envelope(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return {"error": body}
