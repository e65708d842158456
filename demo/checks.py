"""Demo training module and qualification test for the sentiment skill (idempotent).

Call `demo_checks_seed(customer=...)` from seed_demo after `demo_projects_seed` (it needs the
demo customer): it creates the skill "sentiment" if missing, a training module and a test, and
their projects of items with hidden answers and explanations.
"""

from __future__ import annotations

from typing import Any

from labeling.models import Customer, Project, Task
from labeling.services.gold import gold_answer_set
from labeling.services.imports.batches import tasks_create
from labeling.services.projects import project_create
from workforce.models import Skill, SkillCheck
from workforce.services import skill_create
from workforce.services.checks import skill_check_create

# (text, expected label, why)
TRAINING_ITEMS = [
    ("I would buy this again tomorrow.", "positive", "Wanting to repeat a purchase is praise."),
    (
        "Broke after two uses; money wasted.",
        "negative",
        "Breaking quickly and 'wasted' are complaints.",
    ),
    ("The box contains one charger and a cable.", "neutral", "A plain description, no opinion."),
    (
        "Not bad at all, honestly a nice surprise.",
        "positive",
        "'Not bad' plus 'nice surprise' is pleased.",
    ),
    (
        "It works, but the app keeps logging me out.",
        "negative",
        "The complaint outweighs the bare 'it works'.",
    ),
    (
        "Delivered on Tuesday as scheduled.",
        "neutral",
        "A fact about delivery, no feeling either way.",
    ),
]
TEST_ITEMS = [
    ("Superb sound for the price.", "positive"),
    ("Stopped charging within a month.", "negative"),
    ("Comes in black and white.", "neutral"),
    ("The staff were kind and quick to help.", "positive"),
    ("Smells of plastic and the zip broke.", "negative"),
    ("Weighs about 300 grams.", "neutral"),
    ("Best headphones I have owned.", "positive"),
    ("Refund took six weeks. Never again.", "negative"),
    ("Sold in packs of two.", "neutral"),
    ("Comfortable even after hours of use.", "positive"),
]


def _check_with_items(
    *,
    customer: Customer,
    skill: Skill,
    kind: str,
    name: str,
    items: list[tuple[str, str, str]],
    rules: dict[str, Any],
) -> SkillCheck:
    check = skill_check_create(actor=None, skill=skill, kind=kind, name=name, **rules)
    project = project_create(
        customer=customer,
        name=f"{name} (items)",
        actor=None,
        preset="sentiment",
        status="active",
        purpose=kind,
        skill_check=check,
        instructions="Choose the overall sentiment of the review: positive, neutral or negative.",
    )
    tasks_create(
        project=project,
        tasks=[
            {"text": text, "external_id": f"{kind}-{i}"} for i, (text, _, _) in enumerate(items)
        ],
        actor=None,
    )
    by_text = dict(Project.objects.get(pk=project.pk).tasks.values_list("data__text", "pk"))
    for text, label, why in items:
        gold_answer_set(
            task=Task.objects.get(pk=by_text[text]),
            result={"label": label},
            explanation=why,
            actor=None,
        )
    return check


def demo_checks_seed(*, customer: Customer) -> list[str]:
    """Create the demo sentiment training module and test; return what was created."""
    created: list[str] = []
    skill = Skill.objects.filter(slug="sentiment").first()
    if skill is None:
        skill = skill_create(slug="sentiment", name="Sentiment", actor=None)
        created.append("skill sentiment")
    if not SkillCheck.objects.filter(skill=skill, name="Sentiment basics").exists():
        _check_with_items(
            customer=customer,
            skill=skill,
            kind="training",
            name="Sentiment basics",
            items=TRAINING_ITEMS,
            rules={
                "pass_mark": 0.8,
                "description": "Six reviews, with the answer and why after each.",
            },
        )
        created.append("training module Sentiment basics")
    if not SkillCheck.objects.filter(skill=skill, name="Sentiment qualification").exists():
        _check_with_items(
            customer=customer,
            skill=skill,
            kind="test",
            name="Sentiment qualification",
            items=[(text, label, "") for text, label in TEST_ITEMS],
            rules={
                "items_per_attempt": 6,
                "stratify_by_label": True,
                "time_limit_seconds": 600,
                "max_attempts": 3,
                "cooldown_seconds": 3600,
                "level_map": [[0.8, 1], [0.95, 2]],
            },
        )
        created.append("test Sentiment qualification")
    return created
