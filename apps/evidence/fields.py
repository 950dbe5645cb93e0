"""Request fields of the evidence API: one set of parameters is both the published schema and the check.

DRF's own fields answer in their own words ("This field is required.", "Null characters are not
allowed.") and run their checks in their own order; 04-evidence.md fixes both the words and the order
(``title is required``, ``skill_ids exceeds max of 10``, the first failed rule is the message). These
fields keep DRF's parameters (``max_length``, the regex, ``choices``, ``required``, ``allow_null``), which
drf-spectacular publishes, and check them themselves in the spec's order with the spec's messages:

1. absent: ``<name> is required`` when required, else the field's ``absent`` value;
2. null: the same when required or nullable, else the type message (``evidence_data must be an object``);
3. the type, then the field's own rules (``check``).

A field's messages are templates (``{name}`` and the field's limits) so a field whose spec words differ
(``sha256 must be 64 hex characters`` for any wrong value) overrides only those words.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any, ClassVar, NoReturn

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from apps.core.ids import is_entity_id
from apps.evidence import rules

MESSAGES: dict[str, str] = {
    "required": "{name} is required",
    "type": "{name} must be a string",
    "nul": "{name} must not contain NUL characters",
    "blank": "{name} is required",
    "max_length": "{name} exceeds max length of {max_length}",
    "choice": "{name} must be one of {choices}",
}


class SpecRules:
    """Mixin for a DRF field: absent/null handling and the spec's messages (see the module docstring)."""

    default_messages: ClassVar[dict[str, str]] = {}

    def __init__(
        self, *args: Any, absent: Any = None, messages: Mapping[str, str] | None = None, **kwargs: Any
    ) -> None:
        self.absent = absent
        self.spec_messages = {**MESSAGES, **self.default_messages, **(messages or {})}
        super().__init__(*args, **kwargs)

    def limits(self) -> dict[str, Any]:
        """What the message templates may name besides ``{name}``."""
        choices = getattr(self, "choices", None) or {}
        return {"max_length": getattr(self, "max_length", None), "choices": ", ".join(choices)}

    def fail_with(self, key: str) -> NoReturn:
        raise serializers.ValidationError(self.spec_messages[key].format(name=self.field_name, **self.limits()))

    def run_validation(self, data: Any = empty) -> Any:
        if data is empty or data is None:
            if self.required:
                self.fail_with("required")
            if data is None and not self.allow_null:
                self.fail_with("type")
            return copy.deepcopy(self.absent)
        return self.check(data)

    def check(self, value: Any) -> Any:
        raise NotImplementedError

    def text(self, value: Any) -> str:
        """A string without NUL (every text field of the API refuses NUL; apps/core/openapi.py)."""
        if not isinstance(value, str):
            self.fail_with("type")
        if "\x00" in value:
            self.fail_with("nul")
        return value


class _TextRules(SpecRules):
    """Optionally trimmed (ASCII whitespace: the documented patterns' notion of blank), refused when blank
    if ``refuse_blank``, at most ``max_length`` after trimming."""

    def __init__(self, *args: Any, trim: bool = False, refuse_blank: bool = False, **kwargs: Any) -> None:
        self.trim, self.refuse_blank = trim, refuse_blank
        super().__init__(*args, **kwargs)

    def check(self, value: Any) -> Any:
        value = self.text(value)
        if self.trim:
            value = value.strip(rules.WS)
        if self.refuse_blank and not value:
            self.fail_with("blank")
        if self.max_length is not None and len(value) > self.max_length:
            self.fail_with("max_length")
        return value


class Text(_TextRules, serializers.CharField):
    """Free text (the NUL pattern is added to the document by apps/core/openapi.py)."""


class PatternText(_TextRules, serializers.RegexField):
    """Text whose documented pattern is implied by the checks above (not blank, no NUL)."""


class AnyText(SpecRules, serializers.CharField):
    """Any string (NUL included): for an id the service looks up, where an unknown one is 404 whatever it holds."""

    def check(self, value: Any) -> str:
        if not isinstance(value, str):
            self.fail_with("type")
        return value


class EntityId(SpecRules, serializers.RegexField):
    """A 32-character lowercase hex id (UUIDv7 without hyphens)."""

    default_messages: ClassVar[dict[str, str]] = {"pattern": "{name} must be a 32-character lowercase hex id"}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(rules.ID_PATTERN, **kwargs)

    def check(self, value: Any) -> str:
        if not is_entity_id(self.text(value)):
            self.fail_with("pattern")
        return value


class _Matching(SpecRules, serializers.RegexField):
    """Keeps the documented regex to check values with (DRF's ``RegexField`` keeps it only in a validator)."""

    def __init__(self, regex: str, **kwargs: Any) -> None:
        self.regex = re.compile(regex)
        super().__init__(regex, **kwargs)


class HttpUrl(_Matching):
    """An http(s) URL of at most ``max_length``; blank (after trimming) means none."""

    def check(self, value: Any) -> str | None:
        value = self.text(value).strip(rules.WS) or None
        if value is not None and (len(value) > self.max_length or not self.regex.fullmatch(value)):
            self.fail_with("pattern")
        return value


class FileName(PatternText):
    """The spec's file-name rules: a missing, non-text or blank name is "required"; the raw length counts."""

    def check(self, value: Any) -> str:
        if not isinstance(value, str) or not value.strip(rules.WS):
            self.fail_with("blank")
        if len(value) > self.max_length:
            self.fail_with("max_length")
        if "\x00" in value:
            self.fail_with("nul")
        return value.strip(rules.WS)


class Choice(SpecRules, serializers.ChoiceField):
    """One of ``choices``; the message lists them in the declared order."""

    def check(self, value: Any) -> str:
        if self.text(value) not in self.choices:
            self.fail_with("choice")
        return value


class Hex(_Matching):
    """Hex text: any wrong value, whatever its type, gets the one ``pattern`` message."""

    def check(self, value: Any) -> str:
        if not isinstance(value, str) or not self.regex.fullmatch(value):
            self.fail_with("pattern")
        return value


class PositiveInteger(SpecRules, serializers.IntegerField):
    """A JSON integer ≥ ``min_value`` (booleans and floats refused, as strings are)."""

    def check(self, value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < self.min_value:
            self.fail_with("type")
        return value


class SkillList(SpecRules, serializers.ListField):
    """Strings, trimmed, blanks dropped, de-duplicated keeping the first; ≤ ``max_length`` raw and kept."""

    default_messages: ClassVar[dict[str, str]] = {
        "type": "{name} must be an array of strings",
        "max_items": "{name} exceeds max of {max_length}",
        "entry_length": "{name} entries exceed max length of {entry_max}",
    }

    def limits(self) -> dict[str, Any]:
        return super().limits() | {"entry_max": self.child.max_length}

    def check(self, value: Any) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.fail_with("type")
        if any("\x00" in item for item in value):
            self.fail_with("nul")
        if len(value) > self.max_length:  # the raw list too: the documented schema says maxItems
            self.fail_with("max_items")
        kept: list[str] = []
        for item in (raw.strip(rules.WS) for raw in value):
            if item and item not in kept:
                kept.append(item)
        if any(len(item) > self.child.max_length for item in kept):
            self.fail_with("entry_length")
        return kept


class JsonObject(SpecRules, serializers.DictField):
    """A JSON object of at most ``max_keys`` keys and ``MAX_OBJECT_BYTES`` as compact JSON."""

    max_keys: ClassVar[int | None] = None
    default_messages: ClassVar[dict[str, str]] = {
        "type": "{name} must be an object",
        "max_keys": "{name} exceeds max of {max_keys} keys",
        "max_bytes": "{name} exceeds max size of {max_bytes} bytes",
    }

    def check(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail_with("type")
        if self.max_keys is not None and len(value) > self.max_keys:
            self.fail_with("max_keys")
        if rules.json_size(value) > rules.MAX_OBJECT_BYTES:
            self.fail_with("max_bytes")
        return value

    def limits(self) -> dict[str, Any]:
        return super().limits() | {"max_keys": self.max_keys, "max_bytes": rules.MAX_OBJECT_BYTES}


@extend_schema_field({"type": "object", "additionalProperties": True})
class FreeObject(JsonObject):
    pass


@extend_schema_field(
    {"type": "object", "additionalProperties": True, "maxProperties": rules.MAX_METADATA_KEYS, "nullable": True}
)
class MetadataObject(JsonObject):
    max_keys = rules.MAX_METADATA_KEYS


class ClampedLimit(serializers.IntegerField):
    """``limit`` of a list: any integer (Python ``int()`` of the text), clamped to 1..200, default 50."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", f"1..{rules.MAX_LIMIT} (clamped), default {rules.DEFAULT_LIMIT}")
        super().__init__(required=False, **kwargs)

    def run_validation(self, data: Any = empty) -> int:
        if data is empty or data is None:
            return rules.DEFAULT_LIMIT
        try:
            value = int(data)
        except (TypeError, ValueError, OverflowError):
            raise serializers.ValidationError("limit must be an integer") from None
        return max(1, min(rules.MAX_LIMIT, value))
