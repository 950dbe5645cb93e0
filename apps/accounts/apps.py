from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"

    def ready(self) -> None:
        from apps.accounts import auth_cache, schema  # noqa: F401  (schema registers the OpenAPI auth extension)
        from apps.core import events

        events.subscribe(events.UserSessionsRevoked, auth_cache.on_sessions_revoked)
