from django.apps import AppConfig


class CheckinsConfig(AppConfig):
    name = "safepassage.checkins"
    label = "checkins"
