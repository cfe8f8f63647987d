from django.apps import AppConfig


class JourneysConfig(AppConfig):
    name = "safepassage.journeys"
    label = "journeys"
