"""/v1/auth/ routes."""

from django.urls import path

from apps.accounts import api

urlpatterns = [
    path("signup", api.SignupView.as_view(), name="auth-signup"),
    path("signin", api.SigninView.as_view(), name="auth-signin"),
    path("refresh", api.RefreshView.as_view(), name="auth-refresh"),
    path("logout", api.LogoutView.as_view(), name="auth-logout"),
    path("me", api.MeView.as_view(), name="auth-me"),
]
