"""The review page, rework and training-mode feedback in a real browser, driven by the keyboard."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from labeling.models import (
    Annotation,
    AnnotationStatus,
    Lease,
    LeaseState,
    Review,
    Task,
    TaskStatus,
    WorkSlot,
)
from labeling.services.claim import slot_claim_next
from labeling.services.gold import gold_answer_set
from labeling.services.imports.batches import tasks_create
from labeling.services.submit import lease_submit
from tests.browser.conftest import require_chromium, screenshot, sign_in
from tests.factories import PASSWORD, make_user
from tests.labeling.factories import make_project, make_worker

require_chromium()

pytestmark = pytest.mark.django_db(transaction=True)

ALWAYS = {"probation": 1.0, "regular": 1.0, "trusted": 1.0}
NOTHING_TO_REVIEW = r"status of 404 .*/review/claim/"
NO_WORK = r"status of 404 .*/claim/"


def review_project(**settings):
    settings.setdefault("preset", "sentiment")
    return make_project(review_levels=[{"level": 1, "rates": ALWAYS}], gold_warmup=0, **settings)


def annotated(project, texts, label="positive", **extra):
    """Add tasks and have an annotator label each through the services; return the annotator."""
    tasks_create(project=project, tasks=[{"text": t, **extra} for t in texts], actor=None)
    author = make_worker()
    for _ in texts:
        lease = slot_claim_next(project=project, user=author).lease
        result = label if isinstance(label, dict) else {"label": label}
        lease_submit(lease_id=lease.pk, user=author, result=result)
    return author


def switch_to(page, user):
    """Sign out (forget the session) and sign in as `user`."""
    page.goto("about:blank")
    page.context.clear_cookies()
    sign_in(page, user.email, PASSWORD)


def open_review(page, project):
    page.goto(f"/work/projects/{project.pk}/review/")
    page.wait_for_selector("#task:not([hidden]), #nowork:not([hidden])")


def chips(page, where):
    return page.locator(f"{where} .chip").all_inner_texts()


def tab_to(page, selector, limit=40):
    """Press Tab until `selector` has the focus."""
    for _ in range(limit):
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def wait_until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_reject_with_a_reason_then_rework_then_approval_completes_the_task(page, console_errors):
    console_errors.allow(NOTHING_TO_REVIEW)
    project = review_project()
    author = annotated(project, ["The soup was cold and the waiter rude."])
    task = Task.objects.get(project=project)
    reviewer, second = make_user(Role.REVIEWER, level=1), make_user(Role.REVIEWER, level=1)
    comment = "The customer complains: this is negative."

    sign_in(page, reviewer.email, PASSWORD)
    page.goto("/work/")
    screenshot(page, "review-home")
    assert page.get_by_role("link", name=f"Review {project.name}").is_visible()
    open_review(page, project)
    assert chips(page, "#work") == ["positive"]
    assert "The soup was cold" in page.inner_text("#task-view")
    screenshot(page, "review-page")
    page.keyboard.press("r")
    page.keyboard.press("1")
    page.keyboard.type(comment)
    screenshot(page, "review-reject")
    page.keyboard.press("Enter")
    page.wait_for_selector("#nowork:not([hidden])")

    rejection = Review.objects.get(task=task)
    assert (rejection.verdict, rejection.reason, rejection.comment) == (
        "reject",
        "wrong_label",
        comment,
    )
    assert page.get_attribute("#nowork", "data-reason") == "nothing_left"

    switch_to(page, author)
    page.goto("/work/")
    assert page.inner_text("#rework-count") == "1"
    page.goto("/work/history/")
    screenshot(page, "history-rework")
    item = page.locator(".rework-item")
    assert item.count() == 1
    assert comment in item.inner_text()
    assert "Wrong label" in item.inner_text()
    tab_to(page, "a.rework-link")
    page.keyboard.press("Enter")
    page.wait_for_selector("#task:not([hidden])")
    assert comment in page.inner_text("#rework-note")
    assert page.get_attribute('.label-btn[data-label="positive"]', "aria-pressed") == "true"
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    page.wait_for_url("**/work/history/")
    assert page.is_visible("#rework-empty")

    rework = Annotation.objects.filter(task=task, author=author).order_by("-revision").first()
    assert (rework.revision, rework.result) == (2, {"label": "negative"})
    assert Task.objects.get(pk=task.pk).status == TaskStatus.IN_REVIEW

    switch_to(page, second)
    open_review(page, project)
    assert chips(page, "#work") == ["negative"]
    assert "revision 2" in page.inner_text("#work-heading")
    page.keyboard.press("a")
    page.wait_for_selector("#nowork:not([hidden])")

    task.refresh_from_db()
    assert task.status == TaskStatus.COMPLETED
    assert task.result == {"label": "negative"}
    assert Annotation.objects.get(pk=rework.pk).status == AnnotationStatus.ACCEPTED


def test_a_reviewer_corrects_a_single_label_by_keyboard(page, console_errors):
    console_errors.allow(NOTHING_TO_REVIEW)
    project = review_project()
    annotated(project, ["Great value, would buy again."], label="negative")
    task = Task.objects.get(project=project)
    reviewer = make_user(Role.REVIEWER, level=1)
    sign_in(page, reviewer.email, PASSWORD)
    open_review(page, project)
    assert chips(page, "#work") == ["negative"]

    page.keyboard.press("c")
    assert page.is_visible("#editor")
    assert page.get_attribute('.label-btn[data-label="negative"]', "aria-pressed") == "true"
    page.keyboard.press("1")
    screenshot(page, "review-correct")
    page.keyboard.press("Enter")
    page.wait_for_selector("#nowork:not([hidden])")

    review = Review.objects.get(task=task)
    assert review.verdict == "correct"
    assert review.correction.result == {"label": "positive"}
    task.refresh_from_db()
    assert task.status == TaskStatus.COMPLETED
    assert task.result == {"label": "positive"}


def test_escape_cancels_a_rejection_and_approve_then_loads_the_next_review(page, console_errors):
    console_errors.allow(NOTHING_TO_REVIEW)
    project = review_project()
    annotated(project, ["One.", "Two."])
    reviewer = make_user(Role.REVIEWER, level=1)
    sign_in(page, reviewer.email, PASSWORD)
    open_review(page, project)
    first = page.get_attribute("#task", "data-task-id")
    page.evaluate("window.__marker = 1")

    page.keyboard.press("r")
    page.keyboard.press("Escape")
    assert page.is_hidden("#reject-form")
    page.keyboard.press("?")
    assert page.is_visible("#keys")
    page.keyboard.press("?")
    page.keyboard.press("a")
    page.wait_for_function(
        "prev => document.getElementById('task').dataset.taskId !== prev", arg=first
    )
    page.keyboard.press("a")
    page.wait_for_selector("#nowork:not([hidden])")

    assert page.evaluate("window.__marker") == 1
    assert list(Review.objects.values_list("verdict", flat=True)) == ["approve", "approve"]
    assert not Review.objects.filter(verdict="reject").exists()
    assert "Nothing in this project waits for your review" in page.inner_text("#nowork-message")


NER_LABELS = [
    {"name": "PER", "color": "#d62728", "hotkey": "p"},
    {"name": "LOC", "color": "#1f77b4", "hotkey": "l"},
]


def test_a_reviewer_corrects_entities_with_the_span_tools(page, console_errors):
    console_errors.allow(NOTHING_TO_REVIEW)
    project = review_project(preset="", task_type="ner", labels=NER_LABELS)
    text = "Ada Lovelace lived in London."
    wrong = {"spans": [{"start": 0, "end": 3, "label": "LOC"}]}
    annotated(project, [text], label=wrong)
    task = Task.objects.get(project=project)
    sign_in(page, make_user(Role.REVIEWER, level=1).email, PASSWORD)
    open_review(page, project)
    assert "“Ada” (LOC)" in page.inner_text("#work")
    assert page.locator("#work .seg.ent").count() == 1
    screenshot(page, "review-ner")

    page.keyboard.press("c")
    page.keyboard.press("Backspace")  # the caret is on "Ada": remove the wrong LOC
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("p")
    page.keyboard.press("End")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("l")
    page.keyboard.press("Enter")
    page.wait_for_selector("#nowork:not([hidden])")

    corrected = Review.objects.get(task=task).correction.result
    assert [(text[s["start"] : s["end"]], s["label"]) for s in corrected["spans"]] == [
        ("Ada Lovelace", "PER"),
        ("London", "LOC"),
    ]


def test_the_review_page_draws_the_boxes_and_a_box_can_be_deleted_in_the_correction(
    page, live_server, console_errors
):
    console_errors.allow(NOTHING_TO_REVIEW)
    labels = [{"name": "car", "hotkey": "1"}, {"name": "person", "hotkey": "2"}]
    project = review_project(preset="", task_type="bbox", labels=labels)
    image = f"{live_server.url}/static/demo/images/street-1.svg"
    tasks_create(project=project, tasks=[{"image": image, "width": 960, "height": 640}], actor=None)
    author = make_worker()
    lease = slot_claim_next(project=project, user=author).lease
    boxes = [
        {"x": 10, "y": 20, "w": 100, "h": 50, "label": "car"},
        {"x": 300, "y": 200, "w": 40, "h": 90, "label": "person"},
    ]
    lease_submit(lease_id=lease.pk, user=author, result={"boxes": boxes})
    sign_in(page, make_user(Role.REVIEWER, level=1).email, PASSWORD)
    open_review(page, project)
    assert page.locator("#work svg rect").count() == 2
    screenshot(page, "review-bbox")
    assert "person at (300, 200), 40 \u00d7 90 px" in page.inner_text("#work")

    page.keyboard.press("c")
    tab_to(page, "#content .bb-box")
    page.keyboard.press("Delete")
    page.keyboard.press("Enter")
    page.wait_for_selector("#nowork:not([hidden])")

    corrected = Review.objects.get(task=lease.task_id).correction.result
    assert [b["label"] for b in corrected["boxes"]] == ["person"]


def test_an_expired_review_is_explained_and_leaving_releases_the_next(page, console_errors):
    console_errors.allow(r"status of 409 .*/verdict/")
    project = review_project()
    annotated(project, ["One.", "Two."])
    reviewer = make_user(Role.REVIEWER, level=1)
    sign_in(page, reviewer.email, PASSWORD)
    open_review(page, project)
    lease = Lease.objects.get(pk=page.get_attribute("#task", "data-lease-id"))
    past = timezone.now() - timedelta(seconds=1)
    Lease.objects.filter(pk=lease.pk).update(expires_at=past)
    WorkSlot.objects.filter(pk=lease.slot_id).update(lease_expires_at=past)

    page.keyboard.press("a")
    page.wait_for_function(
        "prev => document.getElementById('task').dataset.leaseId !== String(prev)", arg=lease.pk
    )
    assert "ran out" in page.inner_text("#status")
    assert Lease.objects.get(pk=lease.pk).state == LeaseState.EXPIRED
    assert not Review.objects.exists()
    current = Lease.objects.get(user=reviewer, state=LeaseState.ACTIVE)

    page.goto("/work/")

    wait_until(lambda: Lease.objects.get(pk=current.pk).state == LeaseState.RELEASED)
    assert WorkSlot.objects.get(pk=current.slot_id).state == "open"


def test_training_feedback_after_a_gold_task_waits_for_enter(page, console_errors):
    console_errors.allow(NO_WORK)
    project = make_project(
        preset="sentiment",
        gold_feedback=True,
        gold_warmup=1,
        gold_rates={"probation": 0.0, "regular": 0.0, "trusted": 0.0},
    )
    tasks_create(
        project=project,
        tasks=[{"text": "The soup was cold."}, {"text": "Fine."}, {"text": "Lovely."}],
        actor=None,
    )
    gold = Task.objects.get(project=project, data__text="The soup was cold.")
    explanation = "Cold food is a complaint, so the sentiment is negative."
    gold_answer_set(task=gold, result={"label": "negative"}, explanation=explanation, actor=None)
    worker = make_worker()
    sign_in(page, worker.email, PASSWORD)
    page.goto(f"/work/projects/{project.pk}/")
    page.wait_for_selector("#task:not([hidden])")
    assert page.get_attribute("#task", "data-task-id") == str(gold.pk)

    page.keyboard.press("1")
    page.keyboard.press("Enter")
    page.wait_for_selector("#feedback:not([hidden])")
    screenshot(page, "label-gold-feedback")

    assert "Not quite" in page.inner_text("#feedback-verdict")
    assert chips(page, "#feedback-expected") == ["negative"]
    assert page.inner_text("#feedback-explanation") == explanation
    page.keyboard.press("3")  # label keys do nothing while the feedback shows
    page.wait_for_timeout(200)
    assert page.get_attribute("#task", "data-task-id") == str(gold.pk)
    assert Annotation.objects.filter(author=worker).count() == 1

    page.keyboard.press("Enter")
    page.wait_for_function(
        "gold => document.getElementById('task').dataset.taskId !== gold", arg=str(gold.pk)
    )
    assert page.is_hidden("#feedback")
    current = page.get_attribute("#task", "data-task-id")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "prev => document.getElementById('task').dataset.taskId !== prev", arg=current
    )
    assert page.is_hidden("#feedback")
    assert Annotation.objects.filter(author=worker).count() == 2


def test_a_consensus_review_shows_the_annotations_and_the_aggregate_and_cannot_reject(
    page, console_errors
):
    console_errors.allow(NOTHING_TO_REVIEW)
    project = review_project(pipeline="consensus", overlap=2, max_overlap=2)
    tasks_create(project=project, tasks=[{"text": "Meh, it works."}], actor=None)
    for label in ("positive", "neutral"):
        worker = make_worker()
        lease = slot_claim_next(project=project, user=worker).lease
        lease_submit(lease_id=lease.pk, user=worker, result={"label": label})
    task = Task.objects.get(project=project)
    assert task.status == TaskStatus.IN_REVIEW
    sign_in(page, make_user(Role.REVIEWER, level=1).email, PASSWORD)
    open_review(page, project)

    assert page.is_visible("#consensus")
    assert sorted(chips(page, "#annotations")) == ["neutral", "positive"]
    assert "confidence" in page.inner_text("#aggregate-stats")
    screenshot(page, "review-consensus")
    page.keyboard.press("r")
    assert page.is_hidden("#reject-form")
    assert "not sent back" in page.inner_text("#status")
    page.keyboard.press("c")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    page.wait_for_selector("#nowork:not([hidden])")

    task.refresh_from_db()
    assert task.status == TaskStatus.COMPLETED
    assert task.result == {"label": "neutral"}
