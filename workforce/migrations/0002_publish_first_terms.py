"""Publish the first terms of work, so annotators can sign up on a fresh installation."""

from django.db import migrations
from django.utils import timezone

VERSION = "2026-11"

BODY = """These terms govern the labeling work you do through Quorum.

1. Work. You choose which tasks to take. Each task shows its instructions; follow them and label
   honestly. Some tasks have known answers and are used to measure quality.
2. Quality. Your work is reviewed. Work that is rejected may be returned to you for rework.
   Persistently low quality can lead to retraining, lower access or suspension; every such action
   is recorded with its evidence and can be appealed.
3. Pay. You are paid for work that is accepted, at the rate shown for the project when you did it.
   Earnings, deductions and payouts are listed in your account.
4. Confidentiality. Task content belongs to the customer. Do not copy, share or keep it.
5. Accounts. One account per person. Keep your sign-in details to yourself.
6. Changes. When these terms change you will be asked to accept the new version.
"""


def publish(apps, schema_editor):
    TermsVersion = apps.get_model("workforce", "TermsVersion")
    TermsVersion.objects.get_or_create(
        version=VERSION,
        defaults={"title": "Quorum terms of work", "body": BODY, "published_at": timezone.now()},
    )


def unpublish(apps, schema_editor):
    TermsVersion = apps.get_model("workforce", "TermsVersion")
    TermsVersion.objects.filter(version=VERSION, acceptances__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("workforce", "0001_profiles_and_terms")]

    operations = [migrations.RunPython(publish, unpublish)]
