from django.apps import AppConfig


class FindingsConfig(AppConfig):
    name = "findings"
    verbose_name = "Findings and controls"

    def ready(self) -> None:
        from findings import controls  # noqa: F401  (registers the catalog)
