"""Strict serializer fields for the moderation API's request bodies.

Why not DRF's own fields as they are: they coerce (``5`` → ``"5"``, ``"true"`` → ``True``,
``"5"`` → ``5``), trim strings, and answer in their own words. The moderation API refused
those inputs from the start, with the messages below, and clients and the admin site's
forms show them. Each field keeps DRF's attributes (``max_length``, ``min_value``, ...),
so drf-spectacular publishes exactly what the field enforces.
"""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from rest_framework import serializers
from rest_framework.fields import empty

from apps.core.openapi import NON_BLANK_TEXT
from apps.moderation.domain import CONTENT_ID_RE, valid_content_id

CONTENT_ID_PROBLEM = "1..128 characters of letters, digits, '_' or '-'"


class Text(serializers.CharField):
    """A string as sent (never trimmed, never coerced), without NUL.

    Required: present, not blank (the published pattern ``NON_BLANK_TEXT``). Optional: ``null``
    and ``""`` both mean absent (``None``), so blank is documented as accepted.
    ``max_bytes`` limits the UTF-8 size (checked before the character length, which it implies).
    """

    default_error_messages = {
        "required": "this field is required",
        "null": "this field is required",
        "invalid": "must be a string",
        "nul": "must not contain NUL characters",
        "blank": "must not be blank",
        "max_length": "at most {max_length} characters",
        "max_bytes": "at most {max_bytes} bytes",
    }

    def __init__(self, *, required: bool = True, max_bytes: int | None = None, **kwargs: Any) -> None:
        self.max_bytes = max_bytes
        optional = not required
        super().__init__(required=required, allow_null=optional, allow_blank=optional, trim_whitespace=False, **kwargs)
        if required:
            self.validators.append(RegexValidator(NON_BLANK_TEXT, message=self.error_messages["blank"]))

    def run_validation(self, data: Any = empty) -> Any:
        if data == "" and not self.required:
            return None
        return super().run_validation(data)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        if "\x00" in data:
            self.fail("nul")
        if self.required and not data.strip():
            self.fail("blank")
        if self.max_bytes is not None and len(data.encode("utf-8")) > self.max_bytes:
            self.fail("max_bytes", max_bytes=self.max_bytes)
        return data


class ContentId(serializers.RegexField):
    """An item's id: 1..128 of ``[A-Za-z0-9_-]``; one message for every way to get it wrong."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("error_messages", dict.fromkeys(("required", "null", "blank", "invalid"), CONTENT_ID_PROBLEM))
        super().__init__(CONTENT_ID_RE.pattern, trim_whitespace=False, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not valid_content_id(data):  # also before the NUL validator, which would answer in other words
            self.fail("invalid")
        return data


class Choice(serializers.ChoiceField):
    """One of ``choices``; missing, null or anything else: ``must be one of a, b, c``."""

    def __init__(self, choices: tuple[str, ...], **kwargs: Any) -> None:
        problem = f"must be one of {', '.join(choices)}"
        messages = dict.fromkeys(("required", "null", "invalid_choice"), problem)
        super().__init__(choices=choices, error_messages=messages, **kwargs)


class Minutes(serializers.IntegerField):
    """An optional whole number of minutes in ``min_value..max_value`` (no ``"5"``, ``5.0`` or ``true``)."""

    def __init__(self, *, min_value: int, max_value: int, **kwargs: Any) -> None:
        between = f"must be between {min_value} and {max_value}"
        messages = {"invalid": "must be an integer", "min_value": between, "max_value": between}
        super().__init__(
            min_value=min_value, max_value=max_value, required=False, allow_null=True, error_messages=messages, **kwargs
        )

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return data


class Confidence(serializers.FloatField):
    """A JSON number in 0..1; absent or null means 1 (the caller is sure)."""

    PROBLEM = "must be a number between 0 and 1"

    def __init__(self, **kwargs: Any) -> None:
        messages = dict.fromkeys(("invalid", "min_value", "max_value"), self.PROBLEM)
        super().__init__(min_value=0, max_value=1, required=False, allow_null=True, error_messages=messages, **kwargs)

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float) or not 0 <= data <= 1:
            self.fail("invalid")
        return float(data)


class StrictBoolean(serializers.BooleanField):
    """``true`` or ``false`` only (DRF would also take ``"yes"``, ``1``, ``"on"``)."""

    default_error_messages = {"invalid": "must be a boolean"}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class ObjectList(serializers.ListField):
    """A list of at most ``max_length`` objects, each parsed by ``child``, stopping at the first bad one.

    A nested problem keeps the inner field's name (``category: this field is required``), the
    message the API has always given; ``DecisionRequestSerializer`` lifts it to the top level.
    """

    def __init__(self, *, max_length: int, item_problem: str, **kwargs: Any) -> None:
        messages = {"invalid": f"must be a list of at most {max_length} objects", "not_an_object": item_problem}
        super().__init__(max_length=max_length, error_messages=messages, **kwargs)

    def to_internal_value(self, data: Any) -> list[Any]:
        if not isinstance(data, list) or len(data) > self.max_length:
            self.fail("invalid")
        parsed = []
        for item in data:
            if not isinstance(item, dict):
                self.fail("not_an_object")
            parsed.append(self.child.run_validation(item))
        return parsed
