from django.apps import AppConfig
from django.urls import register_converter

from core.converters import IdConverter


class CoreConfig(AppConfig):
    name = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Before any URLconf is loaded: every app's URLs write ids as <id:...>.
        register_converter(IdConverter, "id")
