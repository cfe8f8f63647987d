from django.apps import AppConfig


class MembersConfig(AppConfig):
    name = "safepassage.members"
    label = "members"
