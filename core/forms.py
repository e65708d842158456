from __future__ import annotations

from django import forms

from core.errors import QuorumError, ValidationFailed


def form_add_error(form: forms.Form, error: QuorumError) -> None:
    """Show a service error on the form: next to each named field it knows, else at the top."""
    placed = False
    if isinstance(error, ValidationFailed):
        for field, messages in error.extra.get("fields", {}).items():
            if field in form.fields:
                for message in messages:
                    form.add_error(field, message)
                placed = True
    field_name = error.extra.get("field")
    if not placed and isinstance(field_name, str) and field_name in form.fields:
        form.add_error(field_name, error.message)
        placed = True
    if not placed:
        form.add_error(None, error.message)
