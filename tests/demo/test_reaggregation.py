"""The re-aggregation demo data: after the demo seed and its estimates, the consensus project is
re-aggregated once; a second run changes nothing."""

import pytest
from django.core.management import call_command

from demo.calibration import demo_calibration_seed
from demo.reaggregation import demo_reaggregation_seed
from labeling.models import Project
from labeling.models.work import Reaggregation

pytestmark = pytest.mark.django_db


def test_demo_reaggregation_seed_runs_once_under_the_demo_estimates(settings):
    settings.DEBUG = True
    call_command("seed_demo")  # refreshes the estimates and re-aggregates once
    records = Reaggregation.objects.count()
    project = Project.objects.get(name="Review sentiment (consensus)")

    assert Reaggregation.objects.filter(task__project=project).exists()
    demo_calibration_seed()
    assert demo_reaggregation_seed() == {project.name: 0}
    assert Reaggregation.objects.count() == records
