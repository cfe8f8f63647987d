from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "safepassage.notifications"
    label = "notifications"
