from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data for first runs; it may use every other app, and no app may use it."""

    name = "demo"
    default_auto_field = "django.db.models.BigAutoField"
