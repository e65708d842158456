"""The whole onboarding journey in a real browser, with no manager action: an applicant signs up
(profile and terms on the sign-up form), confirms their e-mail, trains with feedback, passes a
qualification test, adds a payout account (confirmed from the e-mailed link), and claims a real task of a project that asks for the skill. Each step leaves
a screenshot in test-artifacts/ (journey-*.png)."""

import re

import pytest
from django.core import mail

from labeling.models import Lease, LeaseState
from tests.browser.conftest import require_chromium, screenshot
from tests.labeling.factories import add_tasks, make_check, make_project
from workforce.models import AnnotatorProfile, AttemptState, CheckAttempt, SkillLevel
from workforce.selectors import terms_current
from workforce.services import skill_create, terms_publish

require_chromium()

pytestmark = pytest.mark.django_db(transaction=True)

EMAIL = "amara.okafor@example.test"
PASSWORD = "a-long-and-unusual-passphrase"


def verification_code() -> str:
    match = re.search(
        r"^\s*([A-Z0-9]{4}-?[A-Z0-9]{4})\s*$", str(mail.outbox[-1].body), re.MULTILINE
    )
    assert match, mail.outbox[-1].body
    return match.group(1)


def answer_every_item_with_the_first_label(page, *, training: bool) -> None:
    """Work an attempt to its end by keyboard: label 1, Enter (and Enter again past the training
    feedback), until the page says there is nothing more."""
    while True:
        page.wait_for_selector("#task:not([hidden]), #nowork:not([hidden])")
        if page.is_visible("#nowork"):
            return
        shown = page.get_attribute("#task", "data-task-id")
        page.keyboard.press("1")
        page.keyboard.press("Enter")
        if training:
            page.wait_for_selector("#feedback:not([hidden])")
            assert page.text_content("#feedback-verdict").startswith("Correct")
            assert "Because cat" in page.text_content("#feedback-explanation")
            screenshot(page, "journey-4-training-feedback")
            page.keyboard.press("Enter")
        page.wait_for_function(
            "prev => { const t = document.getElementById('task');"
            " return t.hidden || t.dataset.taskId !== prev; }",
            arg=shown,
        )


def test_an_applicant_gets_from_sign_up_to_a_claimed_task_with_no_manager_action(page):
    if terms_current() is None:  # a transactional test starts with the data migrations' rows gone
        terms_publish(version="2026-11", title="Terms of work", body="Be careful.", actor=None)
    skill = skill_create(slug="sentiment", name="Sentiment", actor=None)
    training, _, _ = make_check("training", ("cat", "cat"), skill=skill, pass_mark=0.5)
    test, _, _ = make_check("test", ("cat", "cat"), skill=skill, level_map=[[0.5, 1]])
    project = make_project(required_skill=skill, required_level=1)
    add_tasks(project, 3)

    # 1. Sign up: account, profile (country, time zone, languages) and the terms, on one form.
    page.goto("/accounts/signup/")
    page.fill("#id_email", EMAIL)
    page.fill("#id_full_name", "Amara Okafor")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.select_option("#id_country", "NG")
    page.select_option("#id_time_zone", "Africa/Lagos")
    page.select_option("#id_languages", ["en", "yo"])
    page.check("#id_accept_terms")
    screenshot(page, "journey-1-sign-up")
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/confirm-email/"))
    page.fill("input[name=code]", verification_code())
    page.click("form button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/confirm-email/" not in url)
    profile = AnnotatorProfile.objects.get(user__email=EMAIL)
    assert profile.status == "terms_accepted"  # profile complete and terms accepted, both done

    # 2. The work home's checklist: done steps, the current one (training) with its button.
    page.goto("/work/")
    checklist = page.locator("#onboarding-checklist")
    checklist.wait_for()
    screenshot(page, "journey-2-checklist")
    states = {
        step.get_attribute("data-step"): step.get_attribute("data-state")
        for step in checklist.locator("li.step").all()
    }
    assert states["profile_complete"] == states["terms_accepted"] == "done", states
    assert states["trained"] == "current", states
    checklist.locator("li[data-step='trained'] a.button").click()
    page.wait_for_url(re.compile(r"/checks/"))
    screenshot(page, "journey-3-checks")

    # 3. Training, in the labeling page, with feedback after every answer.
    page.locator(f"tr[data-check-id='{training.pk}'] button", has_text="Start").click()
    answer_every_item_with_the_first_label(page, training=True)
    assert "Passed" in page.text_content("#nowork-message")
    assert CheckAttempt.objects.get(check_ref=training).state == AttemptState.PASSED

    # 4. The qualification test: no feedback, the level it reached at the end.
    page.goto("/checks/")
    page.locator(f"tr[data-check-id='{test.pk}'] button", has_text="Start").click()
    answer_every_item_with_the_first_label(page, training=False)
    screenshot(page, "journey-5-test-passed")
    assert "Level 1 reached" in page.text_content("#nowork-message")
    assert SkillLevel.objects.get(user__email=EMAIL, skill=skill).level == 1

    # 5. Qualified; the last step is a payout account: bank details, confirmed from the e-mail.
    profile.refresh_from_db()
    assert profile.status == "qualified"
    page.goto("/work/")
    checklist = page.locator("#onboarding-checklist")
    assert (
        checklist.locator("li[data-step='payout_account_ready']").get_attribute("data-state")
        == "current"
    )
    checklist.locator("li[data-step='payout_account_ready'] a.button").click()
    page.wait_for_url(re.compile(r"/payout-account/"))
    page.select_option("#id_currency", "NGN")  # the country comes from the profile (NG)
    # Nigeria has no IBANs: the form shows the account number and SWIFT/BIC fields only.
    assert page.is_visible("#id_bic") and not page.is_visible("#id_iban")
    page.fill("#id_holder_name", "Amara Okafor")
    page.fill("#id_account_number", "0123456789")
    page.fill("#id_bic", "FBNINGLA")
    screenshot(page, "journey-6-payout-account")
    page.click("form button.primary")
    page.wait_for_selector("#pending-change")
    assert "Bank account •••• 6789" in page.text_content("#pending-change")
    link = re.search(r"/payout-account/confirm/[^/\s]+/", str(mail.outbox[-1].body))
    assert link, mail.outbox[-1].body
    page.goto(link.group(0))
    page.get_by_role("button", name="Confirm these details").click()
    page.wait_for_selector("#cooling-off")
    screenshot(page, "journey-7-payout-confirmed")

    # 6. Every step done, so on probation at once (no approval queue configured): real work opens.
    profile.refresh_from_db()
    assert profile.status == "probation"
    page.goto("/work/")
    screenshot(page, "journey-8-home-on-probation")
    page.get_by_role("link", name=f"Start {project.name}").click()
    page.wait_for_selector("#task:not([hidden])")
    screenshot(page, "journey-9-first-real-task")
    shown = int(page.get_attribute("#task", "data-task-id"))
    leased = Lease.objects.filter(user__email=EMAIL, state=LeaseState.ACTIVE)
    assert shown in {lease.slot.task_id for lease in leased}  # the page may prefetch the next
    assert {lease.slot.task.project_id for lease in leased} == {project.pk}
