"""Forms of the quality-rule pages: they check the shape of the input; the services judge it."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db.models import QuerySet

from labeling.models import ImportJob, Project
from quality.models import (
    QualityRule,
    RuleActionKind,
    RuleActionState,
    RuleComparator,
    RuleMetric,
    RuleWindow,
)
from quality.services.rules import RULE_FIELDS


class QualityRuleForm(forms.Form):
    """A rule's settings, for creating one or (with `rule`) changing one; the project is fixed then."""

    project = forms.ModelChoiceField(
        queryset=Project.objects.none(),
        required=False,
        empty_label="Global: every project",
        help_text="A project rule sees only that project's work.",
    )
    name = forms.CharField(max_length=150)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    metric = forms.ChoiceField(
        choices=RuleMetric.choices,
        help_text="Earnings are not offered yet: there is no payments ledger to read them from. "
        "The consensus model's scores need a project.",
    )
    window_kind = forms.ChoiceField(choices=RuleWindow.choices, label="Window")
    window_size = forms.IntegerField(min_value=1, label="N items or D days", initial=50)
    min_sample = forms.IntegerField(
        min_value=1,
        initial=10,
        label="Minimum sample",
        help_text="With fewer items in the window, the rule does not judge.",
    )
    comparator = forms.ChoiceField(choices=RuleComparator.choices, label="Fires when the value is")
    threshold = forms.FloatField(help_text="Shares (accuracy, rates, agreement) are 0 to 1.")
    fast_answer_seconds = forms.IntegerField(
        min_value=1,
        required=False,
        label="Fast answer: under (seconds)",
        help_text="Only for the fast-answer rate.",
    )
    action = forms.ChoiceField(choices=RuleActionKind.choices)
    gold_rate = forms.FloatField(
        required=False,
        label="Gold rate (0 to 1)",
        help_text="Only for “raise the gold rate”: the person's share of gold tasks.",
    )
    duration_hours = forms.IntegerField(
        min_value=1,
        required=False,
        label="For (hours)",
        help_text="Empty: until a manager lifts it or upholds an appeal.",
    )
    is_active = forms.BooleanField(
        required=False, initial=True, label="Active (evaluated after each scored event)"
    )

    def __init__(
        self,
        *args: Any,
        projects: QuerySet[Project],
        rule: QualityRule | None = None,
        **kwargs: Any,
    ) -> None:
        if rule is not None and "initial" not in kwargs:
            kwargs["initial"] = {name: getattr(rule, name) for name in RULE_FIELDS}
        super().__init__(*args, **kwargs)
        project_field = cast(forms.ModelChoiceField, self.fields["project"])
        project_field.queryset = projects
        if rule is not None:
            project_field.disabled = True
            project_field.help_text = "Fixed: create a new rule for another project."

    def rule_values(self) -> dict[str, Any]:
        """The cleaned settings as keyword arguments of `rule_create` / `rule_update`."""
        values = {name: self.cleaned_data[name] for name in RULE_FIELDS}
        if self.fields["project"].disabled:
            del values["project"]
        return values


class RuleActionFilterForm(forms.Form):
    state = forms.ChoiceField(choices=[("", "Any state"), *RuleActionState.choices], required=False)


class AppealForm(forms.Form):
    reason = forms.CharField(
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Why is this wrong?",
        help_text="A manager reads it and decides; you will see the decision here.",
    )


class AppealDecideForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("uphold", "Uphold: reverse the action"), ("reject", "Reject: the action stands")],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required when rejecting: the person is told why.",
    )


class LiftForm(forms.Form):
    note = forms.CharField(
        max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class QualityFilterForm(forms.Form):
    """The quality page's scope (the project or one import batch) and the people table's order."""

    batch = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="Import batch", choices=[]
    )
    sort = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, batches: list[ImportJob], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.TypedChoiceField, self.fields["batch"]).choices = [
            ("", "The whole project"),
            *((job.pk, f"#{job.pk} · {job.source[:60]}") for job in batches),
        ]


class TierDecisionForm(forms.Form):
    """A manager's note on a tier candidate: optional to approve, required to decline."""

    note = forms.CharField(
        max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
