"""Forms of the task pages: the task list's filter and a task's gold answer."""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms

from core.errors import QuorumError, ValidationFailed
from core.forms import form_add_error
from labeling.models import TaskStatus

# A gold answer's errors are named under "result.": "result.label" -> "label".
_RESULT_PREFIX = re.compile(r"^(result\.)+")


class TaskFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *TaskStatus.choices])
    batch = forms.IntegerField(
        required=False, min_value=1, label="Import batch", widget=forms.NumberInput()
    )


class GoldAnswerForm(forms.Form):
    """A gold task's answer as JSON, in the project's result format; the gold service checks it."""

    answer = forms.CharField(
        label="Answer (JSON)",
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text='In the project\'s result format, e.g. <code>{"label": "cat"}</code>.',
    )
    explanation = forms.CharField(
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown with the answer in training mode.",
    )

    def clean_answer(self) -> Any:
        text: str = self.cleaned_data["answer"]
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                f"This is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
            ) from None

    def add_service_error(self, error: QuorumError) -> None:
        """Show what is wrong with the answer next to it: the service names `result.<part>`."""
        if isinstance(error, ValidationFailed):
            messages = [
                f"{part}: {message}"
                if (part := _RESULT_PREFIX.sub("", path)) != "result"
                else message
                for path, found in error.extra.get("fields", {}).items()
                for message in found
            ]
            for message in messages or [error.message]:
                self.add_error("answer", message)
            return
        form_add_error(self, error)


class GoldRetireForm(forms.Form):
    retired = forms.TypedChoiceField(
        choices=[("1", "Retire"), ("0", "Restore")], coerce=lambda value: value == "1"
    )
    back = forms.ChoiceField(
        required=False, choices=[("task", "The task page"), ("quality", "The quality page")]
    )
