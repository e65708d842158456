"""Content types of the moved models follow them: labeling.qualityrule becomes quality.qualityrule.

Audit events point at their target through its content type, and permissions hang off it; renaming
the rows (instead of letting Django create new ones) keeps both attached to the moved models. When
the new content type exists already (something asked for it before this ran), the old one's audit
events are moved onto it instead, and the old row is left behind unused. Reversible: going back
does the same towards labeling.
"""

from django.db import migrations

MODELS = ("qualityrule", "ruleaction", "appeal")


def _move(apps, source: str, target: str) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    audit_event = apps.get_model("core", "AuditEvent")
    for model in MODELS:
        old = content_type.objects.filter(app_label=source, model=model).first()
        if old is None:
            continue
        new = content_type.objects.filter(app_label=target, model=model).first()
        if new is None:
            content_type.objects.filter(pk=old.pk).update(app_label=target)
        else:
            audit_event.objects.filter(target_type_id=old.pk).update(target_type_id=new.pk)


def to_quality(apps, schema_editor) -> None:
    _move(apps, "labeling", "quality")


def to_labeling(apps, schema_editor) -> None:
    _move(apps, "quality", "labeling")


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("core", "0001_audit_event"),
        ("quality", "0001_quality_rules_from_labeling"),
    ]

    operations = [migrations.RunPython(to_quality, to_labeling)]
