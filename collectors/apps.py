from django.apps import AppConfig


class CollectorsConfig(AppConfig):
    name = "collectors"
    verbose_name = "Scans and snapshots"

    def ready(self) -> None:
        # Register every collector module (collectors/services/<service>.py).
        from collectors import services  # noqa: F401
