"""Django forms of the sign-up/sign-in pages (same rules as the API serializers)."""

from __future__ import annotations

from django import forms
from django.core.validators import RegexValidator

from apps.accounts.serializers import USERNAME_RE


class SignupForm(forms.Form):
    email = forms.EmailField(max_length=254)
    username = forms.CharField(
        min_length=3,
        max_length=64,
        validators=[RegexValidator(USERNAME_RE, "Use only letters, digits, '_', '.' and '-'.")],
    )
    password = forms.CharField(min_length=8, max_length=256, strip=False, widget=forms.PasswordInput)
    community_id = forms.CharField(min_length=1, max_length=64, required=False, label="Community (optional)")

    def clean_email(self) -> str:
        return self.cleaned_data["email"].lower()


class SigninForm(forms.Form):
    email = forms.EmailField(max_length=254)
    password = forms.CharField(max_length=256, strip=False, widget=forms.PasswordInput)

    def clean_email(self) -> str:
        return self.cleaned_data["email"].lower()
