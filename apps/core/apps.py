from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"

    def ready(self) -> None:
        from django.conf import settings

        from apps.core import tracing

        cfg = settings.CONFIG
        tracing.configure(
            service_version=settings.APP_VERSION,
            environment=cfg.app_env,
            otlp_endpoint=cfg.otel_exporter_otlp_endpoint,
        )
