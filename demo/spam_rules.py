"""Demo data for the default quality rules: every demo project has them (quality/defaults.py).

Projects made through `project_create` get them from labeling's `project_created` event; this
gives them to projects of a database seeded before the rules existed. Idempotent.
"""

from __future__ import annotations

from labeling.models import Customer, Project
from quality.defaults import default_rules_create


def demo_spam_rules_seed(*, customer: Customer) -> list[str]:
    """Give each of `customer`'s projects that has no rules the default ones; name what was made."""
    created: list[str] = []
    for project in Project.objects.filter(customer=customer).order_by("pk"):
        rules = default_rules_create(project=project)
        created.extend(f"quality rule {rule.name!r} in {project.name!r}" for rule in rules)
    return created
