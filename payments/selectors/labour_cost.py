"""Label quality per cost: what each project's work cost (its labour expense entries in the
ledger) next to its final tasks and quality (quality's project measures, its own definitions).

The cost per final task is quality's definition (`cost_per_final_task_minor`) fed with the
ledger's figure as `Costs`; a project whose work was paid in several currencies in the span
gets no single cost per task (None), and the page lists each currency's cost instead.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Sum

from kit.money import Micros, Minor, format_micros, format_minor, micros_to_minor
from payments.models import AccountKind, LedgerEntry
from quality.performance.definitions import Costs
from quality.performance.selectors import MeasureRow, Span, project_measures, projects_measured_for


def labour_cost_micros(
    project_ids: list[int], since: datetime, until: datetime
) -> dict[int, dict[str, int]]:
    """Each project's labour cost in [since, until) per currency, in micro-units (positive: the
    expense account's entries negated). One aggregate query."""
    costs: dict[int, dict[str, int]] = defaultdict(dict)
    for row in (
        LedgerEntry.objects.filter(
            account__kind=AccountKind.LABOUR_EXPENSE_PROJECT,
            account__project_id__in=project_ids,
            transaction__posted_at__gte=since,
            transaction__posted_at__lt=until,
        )
        .values("account__project_id", "account__currency")
        .annotate(total=Sum("amount_micros"))
        .order_by()
    ):
        costs[row["account__project_id"]][row["account__currency"]] = -row["total"]
    return costs


@dataclass(frozen=True)
class CostRow:
    """One project's quality and cost over the span."""

    measures: MeasureRow
    costs: dict[str, int]

    @property
    def cost_texts(self) -> list[str]:
        return [format_micros(Micros(m, c)) for c, m in sorted(self.costs.items())]

    @property
    def cost_per_final_task(self) -> str:
        value = self.measures.measures.get("cost_per_final_task_minor")
        if value is None or len(self.costs) != 1:
            return "—"
        return format_minor(Minor(int(value), next(iter(self.costs))))

    def share(self, name: str) -> str:
        value = self.measures.measures.get(name)
        return "—" if value is None else f"{100 * float(value):.1f}%"

    @property
    def gold_low(self) -> str:
        return self.share("gold_accuracy_low")

    @property
    def review_pass(self) -> str:
        return self.share("review_pass_rate")

    @property
    def agreement(self) -> str:
        return self.share("agreement")


def labour_cost_rows(viewer: Any, *, since: datetime, until: datetime) -> list[CostRow]:
    """The projects `viewer` manages with their cost and quality over the span (quality's scope:
    a manager their projects, an administrator every one)."""
    span = Span.of(since, until, "all")
    ids = list(projects_measured_for(viewer).values_list("pk", flat=True))
    costs = labour_cost_micros(ids, span.since, span.until)

    def costs_of(kind: str, subject: Any, start: datetime, end: datetime) -> Costs | None:
        found = costs.get(subject, {})
        if len(found) != 1:
            return None
        currency, micros = next(iter(found.items()))
        minor = micros_to_minor(Micros(micros, currency))[0].amount
        return Costs(currency=currency, cost_minor=minor, earnings_minor=minor)

    rows = project_measures(viewer, span=span, costs_of=costs_of)
    return [CostRow(row, costs.get(int(row.subject), {})) for row in rows]
