"""Training modules and tests in a real browser: the labeling page in attempt mode."""

import pytest

from tests.browser.conftest import require_chromium, screenshot, sign_in
from tests.factories import PASSWORD
from tests.labeling.factories import make_check, make_worker
from workforce.models import AttemptState, CheckAttempt

require_chromium()

pytestmark = pytest.mark.django_db(transaction=True)


def start_from_checks_page(page, check):
    page.goto("/checks/")
    page.locator(f"tr[data-check-id='{check.pk}'] button", has_text="Start").click()
    page.wait_for_selector("#task:not([hidden])")


def test_training_shows_feedback_after_each_answer_then_the_outcome(page):
    check, _, _ = make_check("training", ("cat", "cat"), pass_mark=0.5)
    worker = make_worker()
    sign_in(page, worker.email, PASSWORD)

    start_from_checks_page(page, check)
    assert page.get_attribute("#lab", "data-mode") == "attempt"
    page.keyboard.press("1")  # cat
    page.keyboard.press("Enter")
    page.wait_for_selector("#feedback:not([hidden])")
    screenshot(page, "check-training-feedback")
    assert page.text_content("#feedback-verdict").startswith("Correct")
    assert page.text_content("#feedback-explanation").startswith("Because cat")
    shown = page.get_attribute("#task", "data-task-id")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "prev => document.getElementById('task').dataset.taskId !== prev", arg=shown
    )
    page.keyboard.press("2")  # dog: wrong
    page.keyboard.press("Enter")
    page.wait_for_selector("#feedback:not([hidden])")
    assert page.text_content("#feedback-verdict").startswith("Not quite")
    page.keyboard.press("Enter")
    page.wait_for_selector("#nowork:not([hidden])")

    screenshot(page, "check-training-done")
    assert "Passed" in page.text_content("#nowork-message")
    assert CheckAttempt.objects.get(user=worker).state == AttemptState.PASSED


def test_a_test_shows_no_feedback_and_ends_with_the_level_reached(page):
    check, _, _ = make_check("test", ("dog", "dog"), level_map=[[0.5, 1]])
    worker = make_worker()
    sign_in(page, worker.email, PASSWORD)

    start_from_checks_page(page, check)
    for _ in range(2):
        shown = page.get_attribute("#task", "data-task-id")
        page.keyboard.press("2")  # dog
        page.keyboard.press("Enter")
        page.wait_for_function(
            "prev => { const t = document.getElementById('task');"
            " return t.hidden || t.dataset.taskId !== prev; }",
            arg=shown,
        )
    page.wait_for_selector("#nowork:not([hidden])")

    screenshot(page, "check-test-done")
    assert page.is_hidden("#feedback")
    assert "Level 1 reached" in page.text_content("#nowork-message")
    assert CheckAttempt.objects.get(user=worker).level_granted == 1
