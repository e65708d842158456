"""Demo data for ties resolved by a stated rule (idempotent).

"Animal photos (ties to review)": a single-label consensus project of two annotators per task whose
tie rule is `review`. Two demo annotators disagree on one task (it goes to level-1 review, not out
unlabelled) and agree on another (final at once). The calibration on gold and the per-person
confusion matrices show on "Review sentiment (consensus)" of `demo.quality`, which has gold
history; nothing else is needed for them.

Everything goes through the services, as real work would.
"""

from __future__ import annotations

from accounts.models import User
from labeling.errors import NoWorkAvailable
from labeling.models import Customer, Project, Task
from labeling.services.claim import slot_claim_next
from labeling.services.imports.batches import tasks_create
from labeling.services.projects import project_create
from labeling.services.submit import lease_submit

TIES_PROJECT = "Animal photos (ties to review)"
ITEMS = [
    ("A small striped animal sleeping on a sofa.", ("cat", "dog")),  # they disagree: a tie
    ("A puppy chasing a ball in the park.", ("dog", "dog")),
]


def demo_ties_seed(*, customer: Customer, people: dict[str, User]) -> list[str]:
    """Create the tie-rule demo project with one tied and one agreed task; return what was made.

    Run after `demo_quality_seed` (it uses the same demo annotators, noor and lucia).
    """
    if Project.objects.filter(customer=customer, name=TIES_PROJECT).exists():
        return []
    project = project_create(
        customer=customer,
        name=TIES_PROJECT,
        actor=None,
        status="active",
        task_type="single_label",
        labels=["cat", "dog", "bird"],
        pipeline="consensus",
        overlap=2,
        max_overlap=2,
        gold_warmup=0,
        tie_rule="review",
        instructions="Which animal is described?",
    )
    tasks_create(project=project, tasks=[{"text": text} for text, _ in ITEMS], actor=None)
    labels_of = dict(ITEMS)
    for position, email in enumerate(("noor@demo.quorum", "lucia@demo.quorum")):
        person = people[email]
        for _ in ITEMS:
            try:
                lease = slot_claim_next(project=project, user=person).lease
            except NoWorkAvailable:
                break
            text = Task.objects.only("data").get(pk=lease.task_id).data["text"]
            lease_submit(
                lease_id=lease.pk, user=person, result={"label": labels_of[text][position]}
            )
    return [f"Project {TIES_PROJECT!r}: one tie sent to review, one task agreed"]
