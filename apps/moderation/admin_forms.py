"""Admin-site forms: type coercion only. The rules are ``rules.py`` (shared with the API)."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.core.errors import ValidationFailed
from apps.core.ids import new_request_id
from apps.moderation import rules


def _choices(values: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(v, v) for v in values]


class DecideForm(forms.Form):
    request_id = forms.CharField(widget=forms.HiddenInput, max_length=128)
    moderation_status = forms.ChoiceField(choices=_choices(rules.STATUSES))
    moderation_action = forms.ChoiceField(choices=_choices(rules.ACTIONS))
    reason_code = forms.CharField(max_length=2000)
    confidence = forms.FloatField(initial=1.0, required=False)
    violations = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="One per line: category | severity | snippet",
    )
    hold_duration_minutes = forms.IntegerField(required=False)
    auto_release_if_no_action = forms.BooleanField(required=False)
    appeal_window_minutes = forms.IntegerField(required=False)
    reasoning = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("request_id", new_request_id())

    def decision_body(self, content_id: str, content_type: str) -> dict[str, Any]:
        data = self.cleaned_data
        violations = []
        for line in (data.get("violations") or "").splitlines():
            parts = [p.strip() or None for p in line.split("|")]
            if parts and parts[0]:
                violations.append({"category": parts[0], "severity": ([*parts, None])[1],
                                   "snippet": ([*parts, None, None])[2]})  # fmt: skip
        return {
            "content_id": content_id,
            "content_type": content_type,
            "moderation_status": data["moderation_status"],
            "moderation_action": data["moderation_action"],
            "reason_code": data["reason_code"],
            "confidence": 1.0 if data.get("confidence") is None else data["confidence"],
            "violations": violations,
            "hold_duration_minutes": data.get("hold_duration_minutes"),
            "auto_release_if_no_action": bool(data.get("auto_release_if_no_action")),
            "appeal_window_minutes": data.get("appeal_window_minutes"),
            "reasoning": data.get("reasoning") or None,
        }

    def add_rule_errors(self, exc: ValidationFailed) -> None:
        """Put the service's ``details.fields`` beside the form's fields."""
        for name, problems in ((exc.details or {}).get("fields") or {}).items():
            for problem in problems:
                self.add_error(name if name in self.fields else None, problem)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=_choices(("user", "moderator", "admin")))


class EnabledForm(forms.Form):
    enabled = forms.TypedChoiceField(choices=[("1", "enable"), ("0", "disable")], coerce=lambda v: v == "1")
    request_id = forms.CharField(max_length=128)


class AdminLoginForm(forms.Form):
    email = forms.EmailField(max_length=254)
    password = forms.CharField(max_length=256, strip=False, widget=forms.PasswordInput)
