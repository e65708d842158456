"""The form a manager writes to a person with, on the person's performance page."""

from __future__ import annotations

from django import forms

from workforce.services.messages import MESSAGE_BODY_MAX, MESSAGE_SUBJECT_MAX


class MessageForm(forms.Form):
    prefix = "message"  # its fields keep ids of their own beside the page's other forms

    subject = forms.CharField(max_length=MESSAGE_SUBJECT_MAX, label="Subject")
    body = forms.CharField(
        max_length=MESSAGE_BODY_MAX,
        label="Message",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="They find it in their notifications (and by e-mail unless they turned it off).",
    )
