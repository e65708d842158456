"""Demo customer, projects of every task type, and their tasks (idempotent)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.templatetags.static import static
from django.utils import timezone

from accounts.models import User
from labeling.models import Customer, Project
from labeling.services.imports.batches import tasks_create
from labeling.services.projects import customer_create, customer_member_add, project_create

REVIEWS = [
    "Arrived two days early and works perfectly. Very happy!",
    "The battery died after a week. Not buying this brand again.",
    "It's fine. Does what it says, nothing more.",
    "Customer service never answered my emails.",
    "Absolutely love the colour, and the fabric feels premium.",
    "Packaging was damaged but the product itself is okay.",
    "Worst purchase this year: broke on the first day.",
    "Good value for the price, would recommend to friends.",
    "Average quality; the instructions were confusing.",
    "Delivery took three weeks and nobody told me why.",
    "Exactly as pictured. Five stars.",
    "Too small for my needs, but well made.",
]
HEADLINES = [
    ("Central bank raises rates as inflation stays high", ["economy", "politics"]),
    ("Local team wins the cup after dramatic penalty shoot-out", ["sports"]),
    ("New vaccine shows promise in early trials", ["health", "science"]),
    ("Parliament debates new data protection law", ["politics", "technology"]),
    ("Chip maker opens factory, creating 2,000 jobs", ["economy", "technology"]),
    ("Marathon runners face record heat", ["sports", "health"]),
    ("Telescope finds water vapour on distant planet", ["science"]),
    ("Start-up raises funds for electric buses", ["technology", "economy"]),
]
NER_TEXTS = [
    "Marie Curie moved from Warsaw to Paris in 1891.",
    "José Saramago nasceu em Azinhaga, Portugal.",
    "Angela Merkel met Emmanuel Macron in Berlin on Tuesday.",
    "Toyota opened a new plant near Nagoya 🎉 last spring.",
    "Amara Okafor works for the United Nations in Nairobi.",
    "Zürich and Genève are the largest cities of Switzerland.",
    "北京 hosted the Olympic Games in 2008, said Li Wei.",
    "Ngozi Okonjo-Iweala leads the World Trade Organization in Geneva.",
]


def _project(customer: Customer, name: str, **settings_: Any) -> tuple[Project, bool]:
    existing = Project.objects.filter(customer=customer, name=name).first()
    if existing is not None:
        return existing, False
    return project_create(
        customer=customer, name=name, actor=None, status="active", **settings_
    ), True


def demo_projects_seed(*, customer_user: User) -> list[str]:
    """Create the demo customer and one active project of each task type; return what was created."""
    created: list[str] = []
    customer = Customer.objects.filter(slug="demo-data-co").first()
    if customer is None:
        customer = customer_create(name="Demo Data Co", slug="demo-data-co", actor=None)
        created.append("customer Demo Data Co")
    customer_member_add(customer=customer, user=customer_user, actor=None)

    sentiment, new = _project(
        customer,
        "Product review sentiment",
        preset="sentiment",
        # A deadline, so that the managers' overview shows the ETA against it.
        deadline=timezone.now() + timedelta(days=10),
        instructions="Read the review and choose its overall sentiment.\n\n"
        "- **positive**: the writer is pleased\n- **neutral**: mixed or factual\n- **negative**: the writer is unhappy\n\n"
        "Keys: `1` positive, `2` neutral, `3` negative, `Enter` submits.",
    )
    if new:
        tasks_create(
            project=sentiment,
            tasks=[
                {"text": t, "external_id": f"review-{i}", "meta": {"shop": "demo"}}
                for i, t in enumerate(REVIEWS * 3)
            ],
            actor=None,
        )
        created.append(sentiment.name)

    topics, new = _project(
        customer,
        "News topics",
        task_type="multi_label",
        labels=["politics", "economy", "sports", "health", "science", "technology"],
        max_labels=3,
        instructions="Choose every topic the headline is about (at most three).",
    )
    if new:
        tasks_create(
            project=topics,
            tasks=[
                {"text": h, "external_id": f"news-{i}"} for i, (h, _) in enumerate(HEADLINES * 2)
            ],
            actor=None,
        )
        created.append(topics.name)

    ner, new = _project(
        customer,
        "People and places",
        task_type="ner",
        labels=[
            {"name": "PER", "color": "#d62728", "hotkey": "p"},
            {"name": "LOC", "color": "#1f77b4", "hotkey": "l"},
            {"name": "ORG", "color": "#2ca02c", "hotkey": "o"},
            {"name": "DATE", "color": "#9467bd", "hotkey": "d"},
        ],
        instructions="Mark every **person** (PER), **place** (LOC), **organisation** (ORG) and **date** (DATE).",
    )
    if new:
        items: list[dict[str, Any]] = [
            {"text": t, "external_id": f"ner-{i}"} for i, t in enumerate(NER_TEXTS * 2)
        ]
        items[0]["pre_annotation"] = {"spans": [{"start": 0, "end": 11, "label": "PER"}]}
        tasks_create(project=ner, tasks=items, actor=None)
        created.append(ner.name)

    boxes, new = _project(
        customer,
        "Street scenes",
        task_type="bbox",
        labels=[
            {"name": "car", "color": "#ff7f0e", "hotkey": "c"},
            {"name": "person", "color": "#e377c2", "hotkey": "p"},
            {"name": "building", "color": "#17becf", "hotkey": "b"},
        ],
        instructions="Draw a tight box around every **car**, **person** and **building**.",
    )
    if new:
        # A path without a host: the images show on whichever address and port serves the demo.
        tasks_create(
            project=boxes,
            tasks=[
                {
                    "image": static(f"demo/images/street-{n}.svg"),
                    "width": 960,
                    "height": 640,
                    "external_id": f"street-{n}-{k}",
                }
                for k in range(2)
                for n in range(1, 7)
            ],
            actor=None,
        )
        created.append(boxes.name)
    return created
