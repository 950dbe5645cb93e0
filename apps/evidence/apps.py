from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    name = "apps.evidence"
    label = "evidence"

    def ready(self) -> None:
        # The local storage endpoint takes file bodies up to the largest per-type limit (100 MiB);
        # importing the upload services registers the periodic jobs (expiry, upload-key sweep).
        from apps.core.middleware import BODY_LIMIT_OVERRIDES
        from apps.core.storage import LOCAL_PREFIX, register_put_guard
        from apps.evidence import files, services_uploads

        BODY_LIMIT_OVERRIDES[LOCAL_PREFIX] = max(files.LIMITS.values())
        # Local uploads: a signed URL writes only while its upload is pending (core cannot import us).
        register_put_guard("evidence/", services_uploads.accepts_put)

        from apps.evidence import transparency

        transparency.register()  # how the transparency audit rebuilds contribution/evidence/vouch leaves
