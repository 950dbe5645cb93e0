from django.apps import AppConfig


class ModerationConfig(AppConfig):
    name = "apps.moderation"
    label = "moderation"

    def ready(self) -> None:
        from apps.moderation import jobs, transparency  # noqa: F401  (importing jobs registers auto-release)

        transparency.register()  # how the transparency audit rebuilds a decision's leaf from its ledger row
