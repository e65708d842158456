"""The annotator's labeling pages in a real browser: keyboard labeling, boxes by mouse, skip, expiry."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.models import Annotation, Lease, LeaseState, WorkSlot
from labeling.services.claim import slot_claim_next
from labeling.services.imports.batches import tasks_create
from tests.browser.conftest import require_chromium, screenshot, sign_in
from tests.factories import PASSWORD
from tests.labeling.factories import make_project, make_worker
from workforce.models import Skill

require_chromium()

pytestmark = pytest.mark.django_db(transaction=True)

NO_WORK_404 = r"status of 404 .*/claim/"
EXPIRED_409 = r"status of 409 .*/leases/\d+/submit/"


def text_tasks(project, texts, **extra):
    tasks_create(project=project, tasks=[{"text": t, **extra} for t in texts], actor=None)
    return dict(project.tasks.values_list("id", "data__text"))


def start(page, project, *, via_home=False):
    """Open the project's labeling page and wait for its first task."""
    if via_home:
        page.goto("/work/")
        page.get_by_role("link", name=f"Start {project.name}").click()
    else:
        page.goto(f"/work/projects/{project.pk}/")
    page.wait_for_selector("#task:not([hidden])")
    wait_for_prefetch(page)
    return task_id(page)


def task_id(page):
    return int(page.get_attribute("#task", "data-task-id"))


def wait_for_prefetch(page):
    """Let the page reserve its next task, so that the next task shows at once."""
    page.wait_for_function(
        "() => ['ready', 'none'].includes(document.getElementById('task').dataset.ahead)"
    )


def wait_for_next(page, previous):
    page.wait_for_function(
        "prev => { const t = document.getElementById('task');"
        " return t.hidden || t.dataset.taskId !== String(prev); }",
        arg=previous,
    )
    if page.is_visible("#task"):
        wait_for_prefetch(page)


def stored(worker):
    return {
        a.task_id: a.result for a in Annotation.objects.filter(author=worker).order_by("task_id")
    }


def signed_in_worker(page):
    worker = make_worker()
    sign_in(page, worker.email, PASSWORD)
    return worker


# --- classification -----------------------------------------------------------------------------


def test_sentiment_three_tasks_by_keyboard_without_reloading(page, console_errors):
    console_errors.allow(NO_WORK_404)
    worker = signed_in_worker(page)
    project = make_project(preset="sentiment", instructions="Choose the **sentiment**.")
    text_tasks(project, ["Loved it.", "It is fine.", "Broke at once."])
    page.goto("/work/")
    screenshot(page, "work-home")
    first = start(page, project, via_home=True)
    page.evaluate("window.__marker = 1")
    screenshot(page, "label-sentiment")
    answers = {}

    current = first
    for key, label in [("1", "positive"), ("3", "negative"), ("2", "neutral")]:
        page.keyboard.press(key)
        assert page.get_attribute(f'.label-btn[data-label="{label}"]', "aria-pressed") == "true"
        answers[current] = {"label": label}
        page.keyboard.press("Enter")
        wait_for_next(page, current)
        current = task_id(page) if page.is_visible("#task") else None

    assert stored(worker) == answers
    assert page.evaluate("window.__marker") == 1
    assert page.get_attribute("#nowork", "data-reason") == "nothing_left"
    assert "no tasks left" in page.inner_text("#nowork-message")
    assert page.inner_text("#done-count") == "3"


def test_multi_label_toggles_by_keyboard_and_respects_the_maximum(page, console_errors):
    console_errors.allow(NO_WORK_404)
    worker = signed_in_worker(page)
    project = make_project(task_type="multi_label", labels=["a", "b", "c", "d", "e"], max_labels=2)
    text_tasks(project, ["First headline", "Second headline", "Third headline"])
    current = start(page, project)
    page.evaluate("window.__marker = 1")
    answers = {}

    page.keyboard.press("1")
    page.keyboard.press("3")
    answers[current] = {"labels": ["a", "c"]}
    screenshot(page, "label-multi")
    page.keyboard.press("Enter")
    wait_for_next(page, current)
    current = task_id(page)
    for key in "245":
        page.keyboard.press(key)
    assert "at most 2 labels" in page.inner_text("#status")
    answers[current] = {"labels": ["b", "d"]}
    page.keyboard.press("Enter")
    wait_for_next(page, current)
    current = task_id(page)
    for key in "112":
        page.keyboard.press(key)
    answers[current] = {"labels": ["b"]}
    page.keyboard.press("Enter")
    wait_for_next(page, current)

    assert stored(worker) == answers
    assert page.evaluate("window.__marker") == 1


def test_skip_stores_the_reason_and_the_task_is_not_offered_again(page, console_errors):
    console_errors.allow(NO_WORK_404)
    worker = signed_in_worker(page)
    project = make_project(preset="sentiment")
    text_tasks(project, ["One.", "Two.", "Three."])
    skipped = start(page, project)
    seen = []

    page.click("#skip")
    page.fill("#skip-reason", "The text is not a review")
    page.click("#skip-confirm")
    wait_for_next(page, skipped)
    while page.is_visible("#task"):
        current = task_id(page)
        seen.append(current)
        page.keyboard.press("1")
        page.keyboard.press("Enter")
        wait_for_next(page, current)

    lease = Lease.objects.get(task_id=skipped, user=worker)
    assert lease.state == LeaseState.SKIPPED
    assert lease.skip_reason == "The text is not a review"
    assert skipped not in seen
    assert len(seen) == 2
    assert set(stored(worker)) == set(seen)
    assert page.get_attribute("#nowork", "data-reason") == "all_done_by_you"


def test_an_expired_lease_is_explained_and_the_next_task_follows(page, console_errors):
    console_errors.allow(EXPIRED_409)
    worker = signed_in_worker(page)
    project = make_project(preset="sentiment")
    text_tasks(project, ["One.", "Two.", "Three."])
    expired = start(page, project)
    page.evaluate("window.__marker = 1")
    wait_until(lambda: Lease.objects.filter(user=worker, state=LeaseState.ACTIVE).count() == 2)
    past = timezone.now() - timedelta(seconds=1)
    lease = Lease.objects.get(task_id=expired, user=worker)
    Lease.objects.filter(pk=lease.pk).update(expires_at=past)
    WorkSlot.objects.filter(pk=lease.slot_id).update(lease_expires_at=past)

    page.keyboard.press("1")
    page.keyboard.press("Enter")
    wait_for_next(page, expired)

    assert page.inner_text("#status") == (
        "Your answer was not saved: your time on this task ran out, and it went back to the queue."
    )
    assert page.is_visible("#task")
    assert task_id(page) != expired
    assert page.evaluate("window.__marker") == 1
    assert stored(worker) == {}
    assert Lease.objects.get(pk=lease.pk).state == LeaseState.EXPIRED


def test_leaving_the_page_releases_the_task_held_in_reserve(page):
    worker = signed_in_worker(page)
    project = make_project(preset="sentiment")
    text_tasks(project, ["One.", "Two.", "Three."])
    current = start(page, project)
    wait_until(lambda: Lease.objects.filter(user=worker, state=LeaseState.ACTIVE).count() == 2)

    page.goto("/work/")

    wait_until(lambda: Lease.objects.filter(user=worker, state=LeaseState.RELEASED).count() == 1)
    assert list(
        Lease.objects.filter(user=worker, state=LeaseState.ACTIVE).values_list("task_id", flat=True)
    ) == [current]


def test_history_lists_what_was_submitted(page, console_errors):
    worker = signed_in_worker(page)
    project = make_project(preset="sentiment")
    text_tasks(project, ["One.", "Two.", "Three."])
    current = start(page, project)
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    wait_for_next(page, current)

    page.goto("/work/history/")

    screenshot(page, "work-history")
    rows = page.locator("tbody tr")
    assert rows.count() == 1
    assert f"#{current}" in rows.first.inner_text()
    assert "Nothing to rework" in page.inner_text("#rework-empty")
    assert stored(worker) == {current: {"label": "neutral"}}


# --- named entities ------------------------------------------------------------------------------

NER_LABELS = [
    {"name": "PER", "color": "#d62728", "hotkey": "p"},
    {"name": "LOC", "color": "#1f77b4", "hotkey": "l"},
    {"name": "ORG", "color": "#2ca02c", "hotkey": "o"},
]
ACCENTS = "José visitó São Paulo 🎉 con Zoë"
CJK = "北京 hosted the Olympic Games in 2008, said Li Wei."
HYPHEN = "Ngozi Okonjo-Iweala leads the World Trade Organization."
# The keys each text is labeled with, and the words (and labels) they must store.
NER_PLAN = {
    ACCENTS: (
        ["p", "ArrowRight", "ArrowRight", "Shift+ArrowRight", "l", *["ArrowRight"] * 3, "p"],
        [("José", "PER"), ("São Paulo", "LOC"), ("Zoë", "PER")],
    ),
    CJK: (
        ["l", *["ArrowRight"] * 9, "Shift+ArrowRight", "p"],
        [("北京", "LOC"), ("Li Wei", "PER")],
    ),
    HYPHEN: (
        ["Shift+ArrowRight", "p", *["ArrowRight"] * 3, *["Shift+ArrowRight"] * 2, "o"],
        [("Ngozi Okonjo-Iweala", "PER"), ("World Trade Organization", "ORG")],
    ),
}


def spans_as_words(text, result):
    return [(text[s["start"] : s["end"]], s["label"]) for s in result["spans"]]


def test_ner_three_tasks_by_keyboard_store_code_point_offsets(page, console_errors):
    console_errors.allow(NO_WORK_404)
    worker = signed_in_worker(page)
    project = make_project(task_type="ner", labels=NER_LABELS)
    texts = text_tasks(project, list(NER_PLAN))
    current = start(page, project)
    page.evaluate("window.__marker = 1")
    shown = []

    while page.is_visible("#task"):
        shown.append(current)
        keys, _ = NER_PLAN[texts[current]]
        for key in keys:
            page.keyboard.press(key)
        if texts[current] == HYPHEN:
            page.keyboard.press("ArrowLeft")
            page.keyboard.press("l")
            assert "does not allow overlapping" in page.inner_text("#status")
            page.keyboard.press("Backspace")
            assert "Removed ORG" in page.inner_text("#status")
            page.keyboard.press("ArrowLeft")
            page.keyboard.press("Shift+ArrowRight")
            page.keyboard.press("Shift+ArrowRight")
            page.keyboard.press("o")
        if texts[current] == ACCENTS:
            screenshot(page, "label-ner")
        page.keyboard.press("Enter")
        wait_for_next(page, current)
        if page.is_visible("#task"):
            current = task_id(page)

    results = stored(worker)
    assert sorted(shown) == sorted(texts)
    for task, text in texts.items():
        assert spans_as_words(text, results[task]) == NER_PLAN[text][1]
    assert page.evaluate("window.__marker") == 1


def test_ner_pre_annotation_is_marked_and_mouse_selection_tags_and_click_removes(
    page, console_errors
):
    console_errors.allow(NO_WORK_404)
    worker = signed_in_worker(page)
    project = make_project(task_type="ner", labels=NER_LABELS)
    tasks_create(
        project=project,
        tasks=[
            {
                "text": ACCENTS,
                "pre_annotation": {"spans": [{"start": 0, "end": 4, "label": "ORG"}]},
            },
            {"text": CJK},
        ],
        actor=None,
    )
    first = project.tasks.get(data__text=ACCENTS).pk
    current = start(page, project)
    if current != first:  # the queue order is random: label the other one first
        page.keyboard.press("Enter")
        wait_for_next(page, current)
        current = task_id(page)
    assert page.is_visible("#suggested")
    assert "Suggested by a model" in page.inner_text("#suggested")

    page.click(".ner-tag")  # the suggested ORG on "José" is wrong: remove it
    page.keyboard.press("p")  # the caret is on "José"
    sao = page.locator(".seg", has_text="São")
    paulo = page.locator(".seg", has_text="Paulo")
    sao.hover(position={"x": 1, "y": 5})
    page.mouse.down()
    box = paulo.bounding_box()
    page.mouse.move(box["x"] + box["width"] - 1, box["y"] + 5, steps=4)
    page.mouse.up()
    page.keyboard.press("l")
    page.keyboard.press("Enter")
    wait_for_next(page, current)

    assert spans_as_words(ACCENTS, stored(worker)[first]) == [("José", "PER"), ("São Paulo", "LOC")]


# --- bounding boxes -----------------------------------------------------------------------------

BOX_LABELS = [
    {"name": "car", "color": "#ff7f0e", "hotkey": "c"},
    {"name": "person", "color": "#e377c2", "hotkey": "p"},
    {"name": "building", "color": "#17becf", "hotkey": "b"},
]
WIDTH, HEIGHT = 960, 640


def image_box(page):
    return page.locator("#task-image").bounding_box()


def to_screen(page, x, y):
    box = image_box(page)
    return box["x"] + x * box["width"] / WIDTH, box["y"] + y * box["height"] / HEIGHT


def to_pixels(page, sx, sy):
    box = image_box(page)
    return round((sx - box["x"]) * WIDTH / box["width"]), round(
        (sy - box["y"]) * HEIGHT / box["height"]
    )


def drag(page, start, end):
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=6)
    page.mouse.up()


def draw(page, x0, y0, x1, y1):
    """Draw from image pixel (x0, y0) to (x1, y1); return the box the page should store."""
    a, b = to_screen(page, x0, y0), to_screen(page, x1, y1)
    drag(page, a, b)
    (px0, py0), (px1, py1) = to_pixels(page, *a), to_pixels(page, *b)
    return {"x": px0, "y": py0, "w": px1 - px0, "h": py1 - py0}


def close(actual, expected, tolerance=1.0):
    return actual["label"] == expected["label"] and all(
        abs(actual[k] - expected[k]) <= tolerance for k in "xywh"
    )


def test_boxes_drawn_moved_resized_and_deleted_by_mouse_store_image_pixels(
    page, live_server, console_errors
):
    console_errors.allow(NO_WORK_404)
    worker = signed_in_worker(page)
    project = make_project(task_type="bbox", labels=BOX_LABELS)
    base = f"{live_server.url}/static/demo/images"
    tasks_create(
        project=project,
        tasks=[
            {"image": f"{base}/street-{n}.svg", "width": WIDTH, "height": HEIGHT} for n in (1, 2, 3)
        ],
        actor=None,
    )
    current = start(page, project)
    page.wait_for_function("() => document.getElementById('task-image').complete")
    assert image_box(page)["width"] != WIDTH  # shown scaled: the page must convert
    page.evaluate("window.__marker = 1")
    expected = {}

    # Task 1: two boxes, the second relabeled by hotkey while selected.
    page.keyboard.press("c")
    first = draw(page, 100, 120, 300, 260) | {"label": "car"}
    second = draw(page, 500, 100, 620, 400) | {"label": "car"}
    page.keyboard.press("p")
    second["label"] = "person"
    expected[current] = [first, second]
    screenshot(page, "label-bbox")
    page.keyboard.press("Enter")
    wait_for_next(page, current)
    current = task_id(page)
    page.wait_for_function("() => document.getElementById('task-image').complete")

    # Task 2: draw a building box, then move it by dragging its body.
    page.keyboard.press("b")
    box = draw(page, 200, 200, 400, 500)
    grab = to_screen(page, 300, 350)
    target = (grab[0] + 60, grab[1] + 30)
    drag(page, grab, target)
    dx, dy = (a - b for a, b in zip(to_pixels(page, *target), to_pixels(page, *grab), strict=True))
    expected[current] = [box | {"x": box["x"] + dx, "y": box["y"] + dy, "label": "building"}]
    page.keyboard.press("Enter")
    wait_for_next(page, current)
    current = task_id(page)
    page.wait_for_function("() => document.getElementById('task-image').complete")

    # Task 3: resize a box by its south-east handle; draw another and delete it.
    page.keyboard.press("c")
    box = draw(page, 50, 50, 250, 200)
    handle = page.locator(".bb-se").bounding_box()
    grab = (handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    end = to_screen(page, 350, 300)
    drag(page, grab, end)
    ex, ey = to_pixels(page, *end)
    sx, sy = to_pixels(page, *grab)
    resized = box | {"w": box["w"] + ex - sx, "h": box["h"] + ey - sy, "label": "car"}
    draw(page, 600, 400, 700, 500)
    assert page.locator(".bb-box").count() == 2
    page.keyboard.press("Delete")
    assert page.locator(".bb-box").count() == 1
    expected[current] = [resized]
    page.keyboard.press("Enter")
    wait_for_next(page, current)

    results = stored(worker)
    assert set(results) == set(expected)
    for task, boxes in expected.items():
        got = results[task]["boxes"]
        assert len(got) == len(boxes), (got, boxes)
        for actual, want in zip(got, boxes, strict=True):
            assert close(actual, want, tolerance=1.5), (actual, want)
    assert page.evaluate("window.__marker") == 1


# --- helpers ------------------------------------------------------------------------------------


def wait_until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_the_page_keeps_an_active_persons_lease_alive_with_heartbeats(page):
    worker = signed_in_worker(page)
    project = make_project(preset="sentiment")
    text_tasks(project, ["One.", "Two."])
    page.clock.install()
    current = start(page, project)
    lease = Lease.objects.get(task_id=current, user=worker)

    page.mouse.move(200, 200)
    page.keyboard.press("2")  # activity
    page.clock.fast_forward("01:05")

    wait_until(lambda: Lease.objects.get(pk=lease.pk).last_seen_at > lease.last_seen_at)
    assert Lease.objects.get(pk=lease.pk).expires_at > lease.expires_at


def test_a_lost_connection_keeps_the_answer_and_retries(page, console_errors):
    console_errors.allow(r"ERR_INTERNET_DISCONNECTED|Failed to fetch")
    worker = signed_in_worker(page)
    project = make_project(preset="sentiment")
    text_tasks(project, ["One.", "Two.", "Three."])
    current = start(page, project)

    page.context.set_offline(True)
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    page.wait_for_selector("#banner:not([hidden])")
    assert "Connection lost" in page.inner_text("#banner")
    assert task_id(page) == current
    page.context.set_offline(False)
    wait_for_next(page, current)

    assert page.is_hidden("#banner")
    assert stored(worker) == {current: {"label": "negative"}}


def test_no_work_says_why_everything_left_is_leased_or_the_person_is_not_qualified(
    page, console_errors
):
    console_errors.allow(r"status of (403|404) .*/claim/")
    worker = signed_in_worker(page)
    busy = make_project(preset="sentiment")
    text_tasks(busy, ["Only one."])
    slot_claim_next(project=busy, user=make_worker())
    skill = Skill.objects.create(slug="medical", name="Medical texts")
    locked = make_project(preset="sentiment", required_skill=skill, required_level=1)
    text_tasks(locked, ["Needs the skill."])

    page.goto(f"/work/projects/{busy.pk}/")
    page.wait_for_selector("#nowork:not([hidden])")
    leased = (page.get_attribute("#nowork", "data-reason"), page.inner_text("#nowork-message"))
    page.goto(f"/work/projects/{locked.pk}/")
    page.wait_for_selector("#nowork:not([hidden])")
    screenshot(page, "label-no-work")

    assert leased[0] == "all_leased"
    assert "being worked on by someone else" in leased[1]
    assert page.get_attribute("#nowork", "data-reason") == "not_qualified"
    assert "not qualified" in page.inner_text("#nowork-message")
    assert not Lease.objects.filter(user=worker).exists()


def test_the_instructions_panel_remembers_that_it_was_closed(page):
    signed_in_worker(page)
    project = make_project(preset="sentiment", instructions="Read **carefully**.")
    text_tasks(project, ["One.", "Two."])
    start(page, project)
    assert page.is_visible("#instructions")
    assert "carefully" in page.inner_text("#instructions")

    page.click("#toggle-instructions")
    page.reload()
    page.wait_for_selector("#task:not([hidden])")

    assert page.is_hidden("#instructions")
    assert page.get_attribute("#toggle-instructions", "aria-expanded") == "false"
