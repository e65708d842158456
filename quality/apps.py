from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "quality"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from labeling.events import project_created, work_scored
        from quality import personal_data
        from quality.defaults import on_project_created
        from quality.handlers import on_work_scored

        personal_data.register()
        # labeling announces judged work; the person's rules are judged after it commits.
        work_scored.connect(on_work_scored, dispatch_uid="quality-rules-on-work-scored")
        # labeling announces a new project; it starts with the default rules.
        project_created.connect(on_project_created, dispatch_uid="quality-default-rules")
