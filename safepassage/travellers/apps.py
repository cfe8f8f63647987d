from django.apps import AppConfig


class TravellersConfig(AppConfig):
    name = "safepassage.travellers"
    label = "travellers"
