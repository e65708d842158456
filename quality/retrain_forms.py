"""The form a manager sends a person back to training with, on the person's performance page."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from labeling.policy import projects_managed_by
from quality.services.retraining import RETRAIN_REASON_MAX


class RetrainForm(forms.Form):
    prefix = "retrain"  # its fields keep ids of their own beside the page's other forms

    project = forms.TypedChoiceField(
        label="Back to training in",
        coerce=int,
        empty_value=None,
        required=False,
        help_text="Every project: each project they have worked in.",
    )
    reason = forms.CharField(
        max_length=RETRAIN_REASON_MAX, label="Reason", help_text="Required: the person is told."
    )

    def __init__(self, *args: Any, manager: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        projects = projects_managed_by(manager).order_by("name", "pk").values_list("pk", "name")
        field = cast(forms.TypedChoiceField, self.fields["project"])
        field.choices = [("", "Every project"), *projects]
