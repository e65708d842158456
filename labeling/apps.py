from django.apps import AppConfig


class LabelingConfig(AppConfig):
    name = "labeling"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from labeling import personal_data
        from labeling.events import work_scored
        from labeling.services.rules import on_work_scored

        personal_data.register()
        work_scored.connect(on_work_scored, dispatch_uid="quality-rules-on-work-scored")
