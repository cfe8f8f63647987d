from django.apps import AppConfig


class BackupsConfig(AppConfig):
    name = "safepassage.backups"
    verbose_name = "Backups"
