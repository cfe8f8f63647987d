from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "safepassage.contacts"
    label = "contacts"
