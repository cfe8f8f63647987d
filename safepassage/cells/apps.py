from django.apps import AppConfig


class CellsConfig(AppConfig):
    name = "safepassage.cells"
    label = "cells"
