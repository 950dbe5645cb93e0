from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured


class TransparencyConfig(AppConfig):
    name = "apps.transparency"
    label = "transparency"

    def ready(self) -> None:
        """Register the integration job; refuse to start with a signing key that does not parse or match its hash."""
        from apps.transparency import services

        try:
            services.check_configured_key()
        except ValueError as exc:
            raise ImproperlyConfigured(str(exc)) from exc
