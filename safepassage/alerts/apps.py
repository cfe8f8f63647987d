from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "safepassage.alerts"
    label = "alerts"
