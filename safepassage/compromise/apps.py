from django.apps import AppConfig


class CompromiseConfig(AppConfig):
    name = "safepassage.compromise"
    label = "compromise"
