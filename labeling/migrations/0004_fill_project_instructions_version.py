"""Fill Project.instructions_version from the instructions already published."""

from django.db import migrations
from django.db.models import Max


def fill(apps, schema_editor):
    Project = apps.get_model("labeling", "Project")
    for project in Project.objects.annotate(latest=Max("instruction_versions__version")).filter(latest__isnull=False):
        Project.objects.filter(pk=project.pk).update(instructions_version=project.latest)


class Migration(migrations.Migration):
    dependencies = [("labeling", "0003_project_instructions_version")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
