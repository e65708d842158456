"""Forms of finance's holds pages: the list's filters, a resolution's reason, a dispute."""

from __future__ import annotations

from django import forms

from payments.models import HoldCause


class HoldFilterForm(forms.Form):
    state = forms.ChoiceField(
        choices=[("open", "Open"), ("resolved", "Resolved"), ("all", "All")],
        required=False,
        initial="open",
    )
    cause = forms.ChoiceField(choices=[("", "Any cause"), *HoldCause.choices], required=False)
    person = forms.IntegerField(required=False, min_value=1, max_value=2**62, label="Person (id)")
    project = forms.IntegerField(required=False, min_value=1, max_value=2**62, label="Project (id)")


class HoldResolveForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.TextInput())


class DisputeOpenForm(forms.Form):
    project = forms.IntegerField(min_value=1, max_value=2**62, label="Project (id)")
    task_id = forms.IntegerField(min_value=1, max_value=2**62, label="Task (id)")
    reason = forms.CharField(max_length=500)
