from django.apps import AppConfig
from django.db.backends.signals import connection_created


class CoreConfig(AppConfig):
    name = "safepassage.core"
    label = "core"

    def ready(self) -> None:
        from .files import on_connection_created

        connection_created.connect(on_connection_created, dispatch_uid="core.private_sqlite")
