"""Admin-site forms: type coercion only. A decision is validated by the service with the API's own
``DecisionRequestSerializer`` (and ``rules.py``), and its problems shown beside these fields."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.core.errors import ValidationFailed
from apps.core.ids import new_request_id
from apps.moderation.domain import valid_content_id


def _choices(values: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(v, v) for v in values]


STATUS_LABELS = {
    "processing": "Processing",
    "under_review": "Under review (hidden)",
    "published": "Published",
    "rejected": "Rejected (removed)",
}
ACTION_LABELS = {
    "publish_now": "Publish now",
    "publish_with_warning": "Publish with a warning",
    "hold_for_review": "Hold for review",
    "block": "Block",
}


class DecideForm(forms.Form):
    """The full decision ("Advanced" on the item page). Its defaults agree with each other and with
    the rules: published + publish now + "no_violation", no hold, no appeal window."""

    request_id = forms.CharField(widget=forms.HiddenInput, max_length=128)
    moderation_status = forms.ChoiceField(
        label="Status", choices=list(STATUS_LABELS.items()), initial="published",
        help_text="Under review goes with Hold for review; Rejected with Block; the others with a Publish action.",
    )  # fmt: skip
    moderation_action = forms.ChoiceField(label="Action", choices=list(ACTION_LABELS.items()), initial="publish_now")
    reason_code = forms.CharField(label="Reason code", max_length=2000, initial="no_violation")
    confidence = forms.FloatField(label="Confidence (0 to 1)", initial=1.0, required=False, min_value=0, max_value=1)
    violations = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="One per line: category | severity | snippet",
    )
    hold_duration_minutes = forms.IntegerField(
        label="Hold duration (minutes)", required=False, min_value=1, help_text="Only for Hold for review."
    )
    auto_release_if_no_action = forms.BooleanField(
        label="Publish again when the hold ends without a decision", required=False
    )
    appeal_window_minutes = forms.IntegerField(
        label="Appeal window (minutes)", required=False, min_value=1,
        help_text="Only for Rejected; empty = 7 days.",
    )  # fmt: skip
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


class QuickForm(forms.Form):
    """A one-click decision button: which preset, and the form's request id (double clicks dedupe)."""

    preset = forms.ChoiceField(choices=[(k, k) for k in ("approve", "hide", "remove", "warn")])
    request_id = forms.RegexField(regex=r"^[A-Za-z0-9_-]{1,64}$", max_length=64)
    next = forms.CharField(max_length=2000, required=False)


class BulkForm(forms.Form):
    """Selected queue rows and one decision for all of them."""

    preset = forms.ChoiceField(choices=[("approve", "approve"), ("remove", "remove")])
    request_id = forms.RegexField(regex=r"^[A-Za-z0-9_-]{1,64}$", max_length=64)

    def clean(self) -> dict[str, Any]:
        """``content_id`` repeats (one per ticked row); ids are checked, never trusted."""
        data = super().clean()
        values = self.data.getlist("content_id") if hasattr(self.data, "getlist") else []
        if not values:
            self.add_error(None, "Select at least one item first.")
        elif any(not valid_content_id(v) for v in values):
            self.add_error(None, "One of the selected items is not a valid item id.")
        data["content_ids"] = values
        return data


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=_choices(("user", "moderator", "admin")))


class EnabledForm(forms.Form):
    enabled = forms.TypedChoiceField(choices=[("1", "enable"), ("0", "disable")], coerce=lambda v: v == "1")
    request_id = forms.CharField(max_length=128)


class AdminLoginForm(forms.Form):
    email = forms.EmailField(max_length=254)
    password = forms.CharField(max_length=256, strip=False, widget=forms.PasswordInput)
