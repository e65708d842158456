"""Forms of the import pages: a file to upload or a location to read."""

from __future__ import annotations

from django import forms

from labeling.services.imports.batches import FORMATS as IMPORT_FORMATS

_IMPORT_FORMAT_CHOICES = [("", "From the file name"), *((f, f.upper()) for f in IMPORT_FORMATS)]


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="File",
        help_text="JSONL, CSV or a JSON array; every line is checked before any is kept.",
    )
    format = forms.ChoiceField(required=False, choices=_IMPORT_FORMAT_CHOICES)


class ImportLocationForm(forms.Form):
    url = forms.CharField(
        label="URL or object URI",
        max_length=1000,
        help_text="https://…, s3://bucket/key, gs://bucket/key or azure://account/container/blob.",
    )
    format = forms.ChoiceField(required=False, choices=_IMPORT_FORMAT_CHOICES)
