from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "apps.webhooks"
    label = "webhooks"

    def ready(self) -> None:
        """Register the gauge refresh job, and the in-process worker when the database is embedded."""
        from django.conf import settings

        from apps.core import background, jobs
        from apps.webhooks import metrics, services  # noqa: F401 - registers the duration histogram
        from apps.webhooks.worker import embedded_worker

        jobs.periodic("webhooks.refresh_gauges", every_s=5)(services.refresh_gauges)
        if settings.CONFIG.surreal_is_embedded:
            background.register(embedded_worker)
