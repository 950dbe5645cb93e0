from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    name = "apps.evidence"
    label = "evidence"

    def ready(self) -> None:
        # The local storage endpoint takes file bodies up to the largest per-type limit (100 MiB);
        # importing the upload services registers the expiry job.
        from apps.core.middleware import BODY_LIMIT_OVERRIDES
        from apps.core.storage import LOCAL_PREFIX
        from apps.evidence import files, services_uploads  # noqa: F401

        BODY_LIMIT_OVERRIDES[LOCAL_PREFIX] = max(files.LIMITS.values())
