"""labeling's pages where quality is set and judged: the gold answer on the task page (retired and
restored from the Quality page), reviews and corrections on the task page, and the quality settings
of the project form."""

import json

import pytest

from accounts.models import Role
from core.errors import ValidationFailed
from labeling.forms.projects import ProjectForm
from labeling.models import GoldAnswer, GoldScore, Project, Task
from labeling.services.claim import slot_claim_next
from labeling.services.gold import gold_answer_set
from labeling.services.submit import lease_submit
from tests.factories import make_user
from tests.labeling.factories import (
    add_tasks,
    make_project,
    make_worker,
    project_form,
)
from tests.quality.factories import seed_reviewed

pytestmark = pytest.mark.django_db


def answer_gold(project, worker, label):
    """`worker` takes their next task, which the warm-up makes gold, and answers `label`."""
    lease = slot_claim_next(project=project, user=worker).lease
    return lease_submit(lease_id=lease.pk, user=worker, result={"label": label})


def test_a_gold_task_is_retired_and_restored_from_the_quality_page(customer_client, customer):
    project = make_project(customer)
    task_id = add_tasks(project, 1)[0]
    gold_answer_set(task=Task.objects.get(pk=task_id), result={"label": "cat"}, actor=None)

    retired = customer_client.post(
        f"/tasks/{task_id}/gold/retire/", {"retired": "1", "back": "quality"}
    )
    is_retired = GoldAnswer.objects.get(task_id=task_id).is_retired
    customer_client.post(f"/tasks/{task_id}/gold/retire/", {"retired": "0"})

    assert retired["Location"] == f"/projects/{project.pk}/quality/#gold"
    assert is_retired
    assert not GoldAnswer.objects.get(task_id=task_id).is_retired


def test_fixing_a_gold_answer_rescores_and_says_how_many(customer_client, customer):
    project = make_project(customer, gold_warmup=1)
    task_id = add_tasks(project, 1)[0]
    gold_answer_set(task=Task.objects.get(pk=task_id), result={"label": "dog"}, actor=None)
    annotation = answer_gold(project, make_worker(), "cat")
    assert GoldScore.objects.get(annotation=annotation).value == 0.0

    response = customer_client.post(
        f"/tasks/{task_id}/gold/",
        {"answer": '{"label": "cat"}', "explanation": "It purrs."},
        follow=True,
    )

    assert "The answer is fixed (version 2); 1 score recomputed." in response.content.decode()
    assert GoldScore.objects.get(annotation=annotation).value == 1.0
    answer = GoldAnswer.objects.get(task_id=task_id)
    assert (answer.result, answer.explanation) == ({"label": "cat"}, "It purrs.")


def test_the_gold_task_page_shows_the_answer_and_its_scores(customer_client, customer):
    project = make_project(customer, gold_warmup=1)
    task_id = add_tasks(project, 1)[0]
    gold_answer_set(task=Task.objects.get(pk=task_id), result={"label": "dog"}, actor=None)
    answer_gold(project, make_worker(), "dog")

    response = customer_client.get(f"/tasks/{task_id}/")

    html = response.content.decode()
    assert "Gold answer" in html
    assert "1 score, mean 1.00" in html
    assert response.context["make_gold_form"] is None
    assert response.context["gold_form"].initial["answer"] == json.dumps({"label": "dog"}, indent=2)


def test_an_open_task_nobody_worked_on_becomes_gold_from_its_page(customer_client, customer):
    project = make_project(customer)
    task_id = add_tasks(project, 1)[0]

    page = customer_client.get(f"/tasks/{task_id}/")
    response = customer_client.post(f"/tasks/{task_id}/gold/", {"answer": '{"label": "bird"}'})

    assert page.context["make_gold_form"] is not None
    assert response.status_code == 302
    task = Task.objects.get(pk=task_id)
    assert task.is_gold
    assert GoldAnswer.objects.get(task=task).result == {"label": "bird"}


def test_a_gold_answer_the_schema_refuses_is_shown_next_to_the_answer(customer_client, customer):
    project = make_project(customer)
    task_id = add_tasks(project, 1)[0]

    response = customer_client.post(f"/tasks/{task_id}/gold/", {"answer": '{"label": "zebra"}'})

    assert response.status_code == 200
    errors = response.context["make_gold_form"].errors["answer"]
    assert len(errors) == 1 and errors[0].startswith("label: ")
    assert 'id="make-gold-form-answer_errors"' in response.content.decode()
    assert not Task.objects.get(pk=task_id).is_gold


def test_an_answer_that_is_not_json_is_refused_before_the_service(customer_client, customer):
    project = make_project(customer)
    task_id = add_tasks(project, 1)[0]

    response = customer_client.post(f"/tasks/{task_id}/gold/", {"answer": "{label: cat"})

    assert (
        response.context["make_gold_form"].errors["answer"][0].startswith("This is not valid JSON")
    )


def test_a_task_someone_worked_on_offers_no_gold_form_and_cannot_become_gold(
    customer_client, customer
):
    project = make_project(customer, review_levels=[{"rates": {"probation": 1.0}}])
    task_id = add_tasks(project, 1)[0]
    worker = make_worker()
    lease = slot_claim_next(project=project, user=worker).lease
    lease_submit(lease_id=lease.pk, user=worker, result={"label": "cat"})

    page = customer_client.get(f"/tasks/{task_id}/")
    response = customer_client.post(f"/tasks/{task_id}/gold/", {"answer": '{"label": "cat"}'})

    assert page.context["make_gold_form"] is None
    assert response.context["make_gold_form"].non_field_errors() == [
        "Only a task nobody has worked on yet can become gold."
    ]


def test_the_task_page_shows_reviews_and_corrections(client):
    seeded = seed_reviewed()
    client.force_login(make_user(Role.MANAGER, mfa=True))

    response = client.get(f"/tasks/{seeded.tasks[3]}/")

    html = response.content.decode()
    verdicts = [(r.level, r.verdict, r.upheld) for r, _ in response.context["reviews"]]
    assert verdicts == [(1, "approve", False), (2, "correct", None)]
    assert "overruled" in html
    assert "correction of #" in html
    assert seeded.people["R2"].email in html


def test_quality_settings_are_saved_from_the_form_and_shown_again(customer_client):
    form = project_form(
        pipeline="consensus",
        overlap="2",
        max_overlap="4",
        review_1_probation="100",
        review_1_regular="30",
        review_1_trusted="10",
        review_2_probation="50",
        review_2_regular="5",
        review_2_trusted="0",
        max_reworks="3",
        gold_warmup="8",
        gold_probation="25",
        gold_regular="7",
        gold_trusted="2.5",
        gold_feedback="on",
        aggregation_method="dawid_skene",
        confidence_threshold="95",
    )

    response = customer_client.post("/projects/new/", form)

    assert response.status_code == 302, response.context["form"].errors
    project = Project.objects.get(name="Reviews")
    assert project.review_levels == [
        {"level": 1, "rates": {"probation": 1.0, "regular": 0.3, "trusted": 0.1}},
        {"level": 2, "rates": {"probation": 0.5, "regular": 0.05, "trusted": 0.0}},
    ]
    assert project.gold_rates == {"probation": 0.25, "regular": 0.07, "trusted": 0.025}
    assert (project.max_reworks, project.gold_warmup, project.gold_feedback) == (3, 8, True)
    assert (project.aggregation_method, project.confidence_threshold) == ("dawid_skene", 0.95)
    initial = customer_client.get(f"/projects/{project.pk}/edit/").context["form"].initial
    assert (initial["review_1_regular"], initial["gold_trusted"]) == ("30", "2.5")
    assert initial["confidence_threshold"] == "95"


def test_editing_one_review_rate_changes_only_that_rate(customer_client, customer):
    project = make_project(
        customer, review_levels=[{"rates": {"probation": 1.0, "regular": 0.3, "trusted": 0.1}}]
    )
    initial = customer_client.get(f"/projects/{project.pk}/edit/").context["form"].initial
    form = {k: "" if v is None else v for k, v in initial.items()}
    form["review_1_trusted"] = "20"

    response = customer_client.post(f"/projects/{project.pk}/edit/", form)

    assert response.status_code == 302
    project.refresh_from_db()
    assert project.review_levels == [
        {"level": 1, "rates": {"probation": 1.0, "regular": 0.3, "trusted": 0.2}}
    ]
    assert project.gold_rates == {"probation": 0.2, "regular": 0.05, "trusted": 0.05}


def test_a_confidence_threshold_on_a_standard_project_is_refused_next_to_the_field(
    customer_client,
):
    response = customer_client.post("/projects/new/", project_form(confidence_threshold="90"))

    assert response.status_code == 200
    assert response.context["form"].errors["confidence_threshold"] == [
        "Dynamic overlap applies to consensus projects only."
    ]
    html = response.content.decode()
    assert '<a href="#id_confidence_threshold">Confidence threshold (%)</a>' in html
    assert not Project.objects.exists()


def test_a_gap_in_the_review_levels_and_a_missing_rate_are_named(customer_client):
    form = project_form(review_1_probation="100", review_3_regular="10")

    response = customer_client.post("/projects/new/", form)

    errors = response.context["form"].errors
    assert errors["review_2_probation"] == ["Fill level 2 before level 3."]
    assert errors["review_1_regular"] == ["A percentage from 0 to 100."]
    assert "review_3_regular" not in errors
    assert "Review level 1, regular (%)" in response.content.decode()
    assert not Project.objects.exists()


def test_review_levels_on_a_collection_project_are_refused_in_the_summary(customer_client):
    form = project_form(
        pipeline="collection",
        review_1_probation="100",
        review_1_regular="100",
        review_1_trusted="100",
    )

    response = customer_client.post("/projects/new/", form)

    assert response.context["form"].non_field_errors() == [
        "Review levels: Collection projects have no review levels."
    ]
    assert "<li>Review levels: Collection projects have no review levels.</li>" in (
        response.content.decode()
    )


def test_a_service_error_about_a_review_rate_lands_on_its_cell():
    form = ProjectForm(project_form())
    assert form.is_valid(), form.errors
    error = ValidationFailed(
        "review_levels[1].rates.regular: A share from 0 to 1.",
        fields={
            "review_levels[1].rates.regular": ["A share from 0 to 1."],
            "gold_rates.trusted": ["A share from 0 to 1."],
            "gold_rates.boss": ["Unknown standing; use probation, regular, trusted."],
        },
    )

    form.add_service_error(error)

    assert form.errors["review_2_regular"] == ["A share from 0 to 1."]
    assert form.errors["gold_trusted"] == ["A share from 0 to 1."]
    assert form.non_field_errors() == [
        "Gold rates: Unknown standing; use probation, regular, trusted."
    ]


def test_the_consensus_settings_tie_rule_reaggregation_and_order_are_saved_from_the_form(
    customer_client,
):
    form = project_form(
        pipeline="consensus",
        overlap="2",
        max_overlap="5",
        aggregation_method="dawid_skene",
        confidence_threshold="95",
        tie_rule="review",
        reaggregate_final="on",
        queue_order="uncertain_first",
    )

    response = customer_client.post("/projects/new/", form)

    assert response.status_code == 302, response.context["form"].errors
    project = Project.objects.get(name="Reviews")
    assert (project.tie_rule, project.reaggregate_final, project.queue_order) == (
        "review",
        True,
        "uncertain_first",
    )
    page = customer_client.get(f"/projects/{project.pk}/")
    assert "Ties: Send to review." in page.content.decode()
    initial = customer_client.get(f"/projects/{project.pk}/edit/").context["form"].initial
    assert (initial["tie_rule"], initial["reaggregate_final"]) == ("review", True)


def test_turning_reaggregate_final_off_on_the_edit_form_changes_only_that(
    customer_client, customer
):
    project = make_project(
        customer, pipeline="consensus", overlap=2, max_overlap=3, reaggregate_final=True
    )
    initial = customer_client.get(f"/projects/{project.pk}/edit/").context["form"].initial
    form = {k: "" if v is None else v for k, v in initial.items() if v is not False}
    del form["reaggregate_final"]  # an unticked box is not sent

    response = customer_client.post(f"/projects/{project.pk}/edit/", form)

    assert response.status_code == 302, response.context["form"].errors
    project.refresh_from_db()
    assert project.reaggregate_final is False
    assert project.tie_rule == "escalate"


def test_an_unknown_tie_rule_is_refused_next_to_the_field(customer_client):
    form = project_form(pipeline="consensus", overlap="2", max_overlap="3", tie_rule="coin_flip")

    response = customer_client.post("/projects/new/", form)

    assert response.status_code == 200
    assert "tie_rule" in response.context["form"].errors
    assert not Project.objects.exists()


def test_uncertain_first_without_dynamic_overlap_is_refused_next_to_the_queue_order(
    customer_client,
):
    form = project_form(
        pipeline="consensus", overlap="2", max_overlap="2", queue_order="uncertain_first"
    )

    response = customer_client.post("/projects/new/", form)

    assert response.status_code == 200
    [message] = response.context["form"].errors["queue_order"]
    assert message.startswith("Uncertain first needs dynamic overlap")
    assert '<a href="#id_queue_order">' in response.content.decode()
    assert not Project.objects.exists()
