from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "safepassage.api"
    label = "api"

    def ready(self) -> None:
        from . import schema  # noqa: F401  registers the OpenAPI authentication extension
