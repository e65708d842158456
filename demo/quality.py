"""Demo projects that show quality control end to end (idempotent).

- "Support ticket triage (reviewed)": a standard project with two review levels, gold tasks in
  training mode, and a little history: submissions, a level-1 approval, a rejection waiting as
  rework for its author, and a level-2 audit.
- "Review sentiment (consensus)": a consensus project aggregated by Dawid-Skene with dynamic
  overlap (2 to 5 annotators, stop at 95% confidence), with gold tasks and a simulated crowd's
  history, so managers see agreement, accuracy and confusion estimates at once.

Everything goes through the services, as real work would.
"""

from __future__ import annotations

import random
from typing import Any

from accounts.models import User
from labeling.errors import NoWorkAvailable
from labeling.models import Customer, Project, Task
from labeling.services.claim import slot_claim_next
from labeling.services.consensus import consensus_confusions_estimate
from labeling.services.gold import gold_answer_set
from labeling.services.gold import sampler as gold_sampler
from labeling.services.imports.batches import tasks_create
from labeling.services.projects import project_create
from labeling.services.review import review_claim_next, review_submit
from labeling.services.review import sampler as review_sampler
from labeling.services.submit import lease_submit

TICKETS = [
    ("I was charged twice for my subscription this month.", "billing"),
    ("The app crashes when I open the settings page.", "bug"),
    ("Can you add a dark mode to the dashboard?", "feature"),
    ("How do I change the e-mail address on my account?", "account"),
    ("My invoice shows the wrong company name.", "billing"),
    ("Uploading a photo fails with error 500.", "bug"),
    ("Please support exporting reports as PDF.", "feature"),
    ("I forgot my password and the reset link expired.", "account"),
    ("Refund has not arrived after two weeks.", "billing"),
    ("The search box ignores accented letters.", "bug"),
    ("It would be great to schedule messages for later.", "feature"),
    ("I want to close my account and delete my data.", "account"),
]
SENTIMENT = [
    ("Arrived early and works perfectly, very happy!", "positive"),
    ("Broke on the first day. Never again.", "negative"),
    ("It does what it says, nothing more.", "neutral"),
    ("The colour is gorgeous and the fabric feels premium.", "positive"),
    ("Customer service never answered my e-mails.", "negative"),
    ("Average quality, average price.", "neutral"),
    ("Exactly as pictured. Five stars.", "positive"),
    ("Delivery took three weeks and nobody told me why.", "negative"),
    ("Fine for the price; the manual could be clearer.", "neutral"),
    ("Best headphones I have owned.", "positive"),
    ("Stopped charging after a month.", "negative"),
    ("Arrived on time. Works.", "neutral"),
]
ALWAYS = {"probation": 1.0, "regular": 1.0, "trusted": 1.0}


def _new_project(customer: Customer, name: str, **settings: Any) -> Project | None:
    if Project.objects.filter(customer=customer, name=name).exists():
        return None
    return project_create(customer=customer, name=name, actor=None, status="active", **settings)


def _label(project: Project, person: User, choose: Any) -> bool:
    try:
        lease = slot_claim_next(project=project, user=person).lease
    except NoWorkAvailable:
        return False
    task = Task.objects.only("data").get(pk=lease.task_id)
    lease_submit(lease_id=lease.pk, user=person, result={"label": choose(task.data["text"])})
    return True


def demo_quality_seed(*, customer: Customer, people: dict[str, User]) -> list[str]:
    """Create the two quality demo projects with some history; return what was created."""
    created: list[str] = []
    rng = random.Random(2026)  # noqa: S311 - demo data, not a secret
    # The same demo every time: seed the review and gold samplers of this process.
    review_sampler.seed(2026)
    gold_sampler.seed(2026)
    truth = dict(TICKETS) | dict(SENTIMENT)
    crowd = [people[e] for e in ("noor@demo.quorum", "lucia@demo.quorum", "priya@demo.quorum")]

    triage = _new_project(
        customer,
        "Support ticket triage (reviewed)",
        task_type="single_label",
        labels=[
            {"name": "billing", "color": "#1f77b4", "hotkey": "1"},
            {"name": "bug", "color": "#d62728", "hotkey": "2"},
            {"name": "feature", "color": "#2ca02c", "hotkey": "3"},
            {"name": "account", "color": "#9467bd", "hotkey": "4"},
        ],
        review_levels=[
            {"level": 1, "rates": {"probation": 1.0, "regular": 1.0, "trusted": 0.3}},
            {"level": 2, "rates": {"probation": 0.5, "regular": 0.5, "trusted": 0.5}},
        ],
        max_reworks=2,
        gold_warmup=1,
        gold_rates={"probation": 0.2, "regular": 0.1, "trusted": 0.05},
        gold_feedback=True,
        queue_order="oldest",
        instructions="Route each support ticket to the team that handles it: **billing**, "
        "**bug**, **feature** request or **account**.\n\nKeys `1`-`4` choose, `Enter` submits.",
    )
    if triage is not None:
        items: list[dict[str, Any]] = [
            {"text": text, "external_id": f"ticket-{i}"} for i, (text, _) in enumerate(TICKETS * 2)
        ]
        for item, (_, label) in zip(items[:3], TICKETS[:3], strict=True):
            item["gold"] = {"label": label}
        tasks_create(project=triage, tasks=items, actor=None)
        author = crowd[0]
        for _ in range(6):
            _label(triage, author, lambda text: truth.get(text, "bug"))
        _label(triage, author, lambda text: "feature")  # one wrong answer, to be sent back
        reviewer, lead = people["reviewer@demo.quorum"], people["lead@demo.quorum"]
        for _ in range(6):
            try:
                lease = review_claim_next(project=triage, user=reviewer).lease
            except NoWorkAvailable:
                break
            task = Task.objects.get(pk=lease.task_id)
            work = task.annotations.order_by("-pk").first()
            given = work.result.get("label") if work else None
            if given == truth.get(task.data["text"]):
                review_submit(lease_id=lease.pk, user=reviewer, verdict="approve")
            else:
                review_submit(
                    lease_id=lease.pk,
                    user=reviewer,
                    verdict="reject",
                    reason="wrong_label",
                    comment="This asks for a new capability; is it really a feature request?",
                )
        try:
            lease = review_claim_next(project=triage, user=lead).lease
            review_submit(lease_id=lease.pk, user=lead, verdict="approve")
        except NoWorkAvailable:
            pass
        created.append(triage.name)

    consensus = _new_project(
        customer,
        "Review sentiment (consensus)",
        preset="sentiment",
        pipeline="consensus",
        overlap=2,
        max_overlap=5,
        confidence_threshold=0.95,
        aggregation_method="dawid_skene",
        queue_order="oldest",
        gold_warmup=1,
        gold_rates={"probation": 0.2, "regular": 0.05, "trusted": 0.05},
        instructions="Choose the overall sentiment of the review. Several people label each "
        "review; the answers are combined, weighting each person by their measured accuracy.",
    )
    if consensus is not None:
        items = [{"text": t, "external_id": f"sent-{i}"} for i, (t, _) in enumerate(SENTIMENT * 3)]
        tasks_create(project=consensus, tasks=items, actor=None)
        gold_task = Task.objects.filter(project=consensus).order_by("pk").first()
        if gold_task is not None:
            gold_answer_set(
                task=gold_task,
                result={"label": truth[gold_task.data["text"]]},
                explanation="The writer is clearly pleased or displeased.",
                actor=None,
            )
        labels = ["positive", "neutral", "negative"]
        careful = {crowd[0].pk: 0.95, crowd[1].pk: 0.85, crowd[2].pk: 0.5}
        for _ in range(14):
            for person in crowd:
                _label(
                    consensus,
                    person,
                    lambda text, p=person: (
                        truth[text] if rng.random() < careful[p.pk] else rng.choice(labels)
                    ),
                )
        consensus_confusions_estimate(project=consensus)
        created.append(consensus.name)
    return created
