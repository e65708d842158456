"""The Quality page's calibration on gold: the figures, the warning and the reliability diagram."""

import json
import re

import pytest

from tests.labeling.factories import make_customer, make_project, make_worker
from tests.quality.reports.test_calibration import consensus, gold_task

pytestmark = pytest.mark.django_db


def test_the_quality_page_shows_ece_a_warning_and_the_diagram_data(customer_client, customer):
    project = consensus(customer=customer)
    people = [make_worker() for _ in range(3)]
    gold_task(project, "cat", ["cat", "cat", "cat"], people)
    gold_task(project, "dog", ["cat", "cat", "dog"], people)

    response = customer_client.get(f"/projects/{project.pk}/quality/")

    assert response.status_code == 200
    html = response.content.decode()
    section = html.split('id="calibration"', 1)[1].split("</section>", 1)[0]
    assert "<strong>0.333</strong>" in section  # ECE: a gap of 2/3 in bin 0.6, weight 1/2
    assert 'class="msg-warning"' in section
    data = json.loads(
        re.search(
            r'<script id="reliability-data" type="application/json">(.*?)</script>', html, re.S
        )[1]
    )
    assert [b["count"] for b in data["bins"]] == [0, 0, 0, 0, 0, 0, 1, 0, 0, 1]
    assert "quality/vendor/chart.umd.js" in html
    assert "quality/reliability.js" in html
    assert not re.search(r"<script(?![^>]*\b(src|type=\"application/json\"))[^>]*>", html)


def test_a_well_calibrated_project_shows_no_warning(customer_client, customer):
    project = consensus(customer=customer)
    people = [make_worker() for _ in range(3)]
    gold_task(project, "cat", ["cat", "cat", "cat"], people)

    html = customer_client.get(f"/projects/{project.pk}/quality/").content.decode()

    section = html.split('id="calibration"', 1)[1].split("</section>", 1)[0]
    assert "<strong>0.000</strong>" in section
    assert "msg-warning" not in section


def test_a_project_without_measured_gold_loads_no_chart(customer_client, customer):
    project = consensus(customer=customer)

    html = customer_client.get(f"/projects/{project.pk}/quality/").content.decode()

    assert "Nothing measured yet" in html
    assert "chart.umd.js" not in html


def test_another_customers_quality_page_is_not_found(customer_client):
    project = make_project(make_customer("Someone Else"))

    assert customer_client.get(f"/projects/{project.pk}/quality/").status_code == 404
