"""The labeling page in a real browser: images on any port, emoji in entities, and one clear message
for each outcome (a fast submit, a stale tab, a lease that ran out while the laptop slept, the
warning before a lease runs out), and the active time of a reserved task shown after a lease ran out."""

from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.models import Annotation, Lease, LeaseState, WorkSlot
from labeling.services.imports.batches import tasks_create
from tests.browser.conftest import require_chromium
from tests.browser.test_labeling_pages import (
    HEIGHT,
    WIDTH,
    draw,
    signed_in_worker,
    start,
    stored,
    task_id,
    text_tasks,
    wait_for_next,
    wait_until,
)
from tests.labeling.factories import make_project

require_chromium()

pytestmark = pytest.mark.django_db(transaction=True)

BOX_LABELS = [{"name": "car", "color": "#ff7f0e", "hotkey": "c"}]
NOT_YOURS_409 = r"status of 409 .*/leases/\d+/submit/"
NO_WORK_404 = r"status of 404 .*/claim/"


def lease_id(page):
    return int(page.get_attribute("#task", "data-lease-id"))


def settle(page):
    """Wait until the page has no request left in flight (the next test flushes the database)."""
    page.wait_for_load_state("networkidle")


# --- images of box projects ---------------------------------------------------------------------


def test_a_box_image_given_as_a_path_on_the_site_shows_and_saves_on_any_port(
    page, live_server, console_errors
):
    console_errors.allow(NO_WORK_404)
    worker = signed_in_worker(page)
    project = make_project(task_type="bbox", labels=BOX_LABELS)
    path = "/static/demo/images/street-1.svg"
    tasks_create(
        project=project, tasks=[{"image": path, "width": WIDTH, "height": HEIGHT}], actor=None
    )
    current = start(page, project)

    page.wait_for_selector('.bb-stage[data-image="loaded"]')
    box = draw(page, 100, 120, 300, 260)
    page.keyboard.press("Enter")
    wait_for_next(page, current)
    settle(page)

    assert not live_server.url.endswith(":8000")
    assert page.evaluate("() => location.port") != "8000"
    [saved] = stored(worker)[current]["boxes"]
    assert all(abs(saved[k] - box[k]) <= 1.5 for k in "xywh"), (saved, box)


def test_boxes_are_not_saved_when_the_image_did_not_load_and_the_person_is_told(
    page, console_errors
):
    console_errors.allow(r"status of 404 .*/static/missing/street\.svg")
    console_errors.allow(NO_WORK_404)
    worker = signed_in_worker(page)
    project = make_project(task_type="bbox", labels=BOX_LABELS)
    tasks_create(
        project=project,
        tasks=[{"image": "/static/missing/street.svg", "width": WIDTH, "height": HEIGHT}],
        actor=None,
    )
    start(page, project)
    page.wait_for_selector('.bb-stage[data-image="failed"]')
    stage = page.locator(".bb-stage").bounding_box()

    page.mouse.move(stage["x"] + 100, stage["y"] + 120)
    page.mouse.down()
    page.mouse.move(stage["x"] + 300, stage["y"] + 260, steps=6)
    page.mouse.up()
    drawn = page.locator(".bb-box").count()
    page.keyboard.press("Enter")
    settle(page)

    assert stage["width"] > 400 and stage["height"] > 250, stage  # not a sliver of 70 by 10 px
    assert drawn == 0
    assert page.is_visible("#bb-missing")
    assert page.inner_text("#status").startswith(
        "Not saved: the image did not load, so boxes cannot be placed on it."
    )
    assert stored(worker) == {}
    assert not Annotation.objects.exists()


# --- entities and emoji -------------------------------------------------------------------------

FAMILY = "\U0001f469\u200d\U0001f469\u200d\U0001f467"  # 👩‍👩‍👧: five code points, one character
NER_LABELS = [{"name": "PER", "color": "#d62728", "hotkey": "p"}]


def test_arrow_keys_step_over_an_emoji_sequence_as_one_character_and_tag_it_whole(
    page, console_errors
):
    console_errors.allow(NO_WORK_404)
    worker = signed_in_worker(page)
    project = make_project(task_type="ner", labels=NER_LABELS)
    text = f"Ana {FAMILY} Bob"
    text_tasks(project, [text])
    current = start(page, project)
    steps = []

    for key in ["ArrowRight", "ArrowRight", "ArrowLeft"]:
        page.keyboard.press(key)
        steps.append(page.inner_text("#status"))
    page.keyboard.press("p")
    pieces = page.locator("#task-text .seg").all_inner_texts()
    page.keyboard.press("Enter")
    wait_for_next(page, current)
    settle(page)

    assert steps == [f"Selected “{FAMILY}”.", "Selected “Bob”.", f"Selected “{FAMILY}”."]
    assert "\u200d" not in pieces and "\U0001f469" not in pieces
    assert stored(worker)[current] == {"spans": [{"start": 4, "end": 9, "label": "PER"}]}


# --- one clear message per outcome --------------------------------------------------------------


def test_a_fast_submit_before_the_next_task_was_reserved_says_saved_and_nothing_else(page):
    worker = signed_in_worker(page)
    project = make_project(preset="sentiment")
    text_tasks(project, ["One.", "Two.", "Three."])
    held = []

    def hold_the_first_reservation(route):
        if held:
            route.continue_()
            return
        held.append((route, route.fetch()))  # the server reserves the task; the page hears later

    page.route(lambda url: "prefetch=1" in url, hold_the_first_reservation)
    page.goto(f"/work/projects/{project.pk}/")
    page.wait_for_selector("#task:not([hidden])")
    current = task_id(page)
    page.wait_for_function("() => document.getElementById('task').dataset.ahead === 'pending'")
    wait_until(lambda: Lease.objects.filter(user=worker, state=LeaseState.ACTIVE).count() == 2)
    reserved = Lease.objects.filter(user=worker, state=LeaseState.ACTIVE).latest("pk")

    page.keyboard.press("1")
    with page.expect_response(lambda r: r.url.endswith("/submit/")):
        page.keyboard.press("Enter")
    page.wait_for_timeout(300)  # the old page claimed again here and got the reserved task back
    route, response = held[0]
    route.fulfill(response=response)
    wait_for_next(page, current)
    page.wait_for_timeout(1500)
    settle(page)

    assert page.inner_text("#status") == "Saved. Next task."
    assert lease_id(page) == reserved.pk
    assert stored(worker) == {current: {"label": "positive"}}


def test_a_stale_tab_is_told_its_answer_was_not_saved_and_the_message_stays(page, console_errors):
    console_errors.allow(NOT_YOURS_409)
    worker = signed_in_worker(page)
    project = make_project(preset="sentiment")
    text_tasks(project, ["One.", "Two.", "Three.", "Four."])
    first = start(page, project)
    other = page.context.new_page()
    other.goto(f"/work/projects/{project.pk}/")
    other.wait_for_selector("#task:not([hidden])")
    assert task_id(other) == first
    assert "You already held this task" in other.inner_text("#status")
    other.keyboard.press("1")
    other.keyboard.press("Enter")
    wait_for_next(other, first)
    other.goto("about:blank")
    other.close()

    page.keyboard.press("3")
    page.keyboard.press("Enter")
    wait_for_next(page, first)
    page.wait_for_timeout(1500)
    settle(page)

    assert page.inner_text("#status") == (
        "Your answer was not saved: this task is no longer yours; it was submitted, skipped or "
        "released in another tab or window."
    )
    assert page.is_visible("#task")
    assert stored(worker) == {first: {"label": "positive"}}


def test_a_lease_that_ran_out_while_the_laptop_slept_gives_one_message_and_a_live_task(
    page, console_errors
):
    worker = signed_in_worker(page)
    project = make_project(preset="sentiment")
    text_tasks(project, ["One.", "Two.", "Three.", "Four."])
    page.clock.install()
    expired = start(page, project)
    wait_until(lambda: Lease.objects.filter(user=worker, state=LeaseState.ACTIVE).count() == 2)
    reserved = Lease.objects.filter(user=worker, state=LeaseState.ACTIVE).latest("pk")
    past, soon = timezone.now() - timedelta(seconds=1), timezone.now() + timedelta(seconds=30)
    lease = Lease.objects.get(task_id=expired, user=worker)
    Lease.objects.filter(pk=lease.pk).update(expires_at=past)
    WorkSlot.objects.filter(pk=lease.slot_id).update(lease_expires_at=past)
    # The reserved task still lives on the server for a few seconds: a claim that races its
    # release would get it back just before the release takes it away.
    Lease.objects.filter(pk=reserved.pk).update(expires_at=soon)
    releases = []
    page.route(lambda url: f"/leases/{reserved.pk}/release/" in url, lambda r: releases.append(r))

    page.clock.fast_forward("10:01")  # the laptop wakes after the lease time
    while not releases:  # route handlers run while Playwright waits, not while Python sleeps
        page.wait_for_timeout(20)
    page.wait_for_timeout(500)  # a claim sent alongside the release would arrive first
    releases[0].continue_()
    page.wait_for_function(f"() => document.getElementById('task').dataset.taskId !== '{expired}'")
    message = page.inner_text("#status")
    shown = lease_id(page)
    page.clock.fast_forward("00:05")
    page.wait_for_timeout(1000)
    settle(page)

    assert message == "Your time on this task ran out; it went back to the queue."
    assert page.inner_text("#status") == message
    assert lease_id(page) == shown != reserved.pk
    assert Lease.objects.get(pk=shown).state == LeaseState.ACTIVE
    assert Lease.objects.get(pk=reserved.pk).state == LeaseState.RELEASED


def test_a_reserved_task_shown_when_the_current_one_ran_out_counts_its_time_from_then(
    page, console_errors
):
    console_errors.allow(NO_WORK_404)
    worker = signed_in_worker(page)
    project = make_project(preset="sentiment", idle_cap_seconds=120)
    text_tasks(project, ["One.", "Two.", "Three."])
    page.clock.install()
    held = []
    page.route(lambda url: "prefetch=1" in url, lambda route: held.append(route))
    page.goto(f"/work/projects/{project.pk}/")
    page.wait_for_selector("#task:not([hidden])")
    expired = task_id(page)
    while not held:  # route handlers run while Playwright waits, not while Python sleeps
        page.wait_for_timeout(20)
    page.clock.fast_forward("00:30")  # the task ahead is reserved half a minute after the first
    held[0].continue_()
    page.wait_for_function("() => document.getElementById('task').dataset.ahead === 'ready'")
    page.unroute_all()
    reserved = Lease.objects.filter(user=worker, state=LeaseState.ACTIVE).latest("pk")
    # On the server, the reservation has waited as long as the first task was on screen.
    waited = timezone.now() - timedelta(minutes=10)
    Lease.objects.filter(pk=reserved.pk).update(claimed_at=waited, last_seen_at=waited)

    signs = []
    page.on("requestfinished", lambda r: signs.append(r.url) if "/leases/" in r.url else None)

    page.clock.fast_forward("09:35")  # the first task runs out on the page; nobody was there
    page.wait_for_function(f"() => document.getElementById('task').dataset.taskId !== '{expired}'")
    shown = lease_id(page)
    for _ in range(100):  # whatever the page tells the server of the switch, before the answer
        if signs:
            break
        page.wait_for_timeout(20)
    page.keyboard.press("1")
    with page.expect_response(lambda r: r.url.endswith(f"/leases/{reserved.pk}/submit/")):
        page.keyboard.press("Enter")
    wait_for_next(page, reserved.task_id)
    settle(page)

    assert shown == reserved.pk
    assert Annotation.objects.get(lease_id=reserved.pk).active_seconds <= 10


def test_the_lease_warning_comes_in_the_last_quarter_of_a_short_lease_and_stays(page):
    signed_in_worker(page)
    project = make_project(preset="sentiment", lease_seconds=60)
    text_tasks(project, ["One.", "Two."])
    page.clock.install()
    start(page, project)
    page.clock.fast_forward("00:02")
    early = (page.inner_text("#status"), page.get_attribute(".lab-timer", "class"))

    page.clock.fast_forward("00:44")
    warned = page.inner_text("#status")
    page.clock.fast_forward("00:05")
    settle(page)

    assert early == ("", "lab-timer")
    assert warned == (
        "Less than 15 seconds left on this task. Keep working (a key, a click) to keep it."
    )
    assert page.inner_text("#status") == warned
    assert "is-low" in page.get_attribute(".lab-timer", "class")
