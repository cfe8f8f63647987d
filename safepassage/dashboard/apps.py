from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "safepassage.dashboard"
    label = "dashboard"
