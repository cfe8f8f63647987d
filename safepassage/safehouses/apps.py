from django.apps import AppConfig


class SafehousesConfig(AppConfig):
    name = "safepassage.safehouses"
    label = "safehouses"
