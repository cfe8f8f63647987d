from django.apps import AppConfig


class OrganisationsConfig(AppConfig):
    name = "safepassage.organisations"
    label = "organisations"
