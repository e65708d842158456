"""The calibration demo data: after the demo seed, each project using estimates has its priors."""

import pytest
from django.core.management import call_command

from demo.calibration import demo_calibration_seed
from labeling.models import ConsensusPriors, Project

pytestmark = pytest.mark.django_db


def test_demo_calibration_seed_gives_the_demo_consensus_project_its_priors(settings):
    settings.DEBUG = True
    call_command("seed_demo")
    ConsensusPriors.objects.all().delete()

    names = demo_calibration_seed()

    project = Project.objects.get(name="Review sentiment (consensus)")
    assert names == [project.name]
    priors = ConsensusPriors.objects.get(project=project)
    assert priors.classes == [label["name"] for label in project.labels]
    assert sum(priors.class_priors) == pytest.approx(1)
    assert demo_calibration_seed() == names  # again: replaced, not duplicated
    assert ConsensusPriors.objects.filter(project=project).count() == 1
