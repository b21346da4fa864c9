"""Forms of the Files pages (folders, items, sharing, the metadata schema)."""

from __future__ import annotations

import json

from django import forms
from django.conf import settings

ROLE_CHOICES = [(1, "User (open, upload, edit)"), (0, "Admin (also delete, move, share)")]
KIND_CHOICES = [
    ("varchar", "Text (short)"),
    ("text", "Text (long)"),
    ("number", "Number"),
    ("boolean", "Boolean"),
    ("datetime", "Date and time"),
    ("uuid", "UUID"),
    ("enum", "Enum (fixed values)"),
]
OP_CHOICES = [
    ("eq", "="),
    ("ne", "≠"),
    ("lt", "<"),
    ("le", "≤"),
    ("gt", ">"),
    ("ge", "≥"),
    ("between", "between (a,b)"),
    ("in", "in (a,b,…)"),
    ("contains", "contains"),
    ("exists", "exists (True/False)"),
]
DUPLICATE_CHOICES = [
    ("SKIP", "Skip items already in the dataset"),
    ("FAIL", "Refuse if any is already in the dataset"),
    ("DUPLICATE", "Add them again"),
]


class FolderForm(forms.Form):
    name = forms.CharField(max_length=settings.MAX_TITLE_LENGTH)
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=settings.MAX_DESCRIPTION_LENGTH
    )
    metadata = forms.CharField(
        required=False,
        label="Metadata (JSON object)",
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text='For example {"site": "Berlin"}. Leave empty for none.',
    )

    def clean_metadata(self):
        text = self.cleaned_data["metadata"].strip()
        if not text:
            return None
        try:
            value = json.loads(text)
        except ValueError:
            raise forms.ValidationError("This is not valid JSON.") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("Metadata must be a JSON object: {...}.")
        return value


class ItemEditForm(forms.Form):
    name = forms.CharField(max_length=settings.MAX_TITLE_LENGTH)
    metadata = FolderForm.base_fields["metadata"]

    clean_metadata = FolderForm.clean_metadata


class MoveForm(forms.Form):
    target = forms.ChoiceField(label="Move into")
    allow_mirror = forms.BooleanField(
        required=False,
        label="Allow changing mirror datasets (their data units follow their folder)",
    )

    def __init__(self, *args, targets=(), top_level=False, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "(top level)")] if top_level else []
        choices += [(str(f.uuid), folder_label(f)) for f in targets]
        self.fields["target"].choices = choices
        self.fields["target"].required = not top_level


def folder_label(folder) -> str:
    path = " / ".join(p.name for p in reversed(folder.path_to_root))
    return f"{path} / {folder.name}" if path else folder.name


class ShareForm(forms.Form):
    email = forms.EmailField(label="E-mail of an existing user")
    role = forms.TypedChoiceField(choices=ROLE_CHOICES, coerce=int, initial=1)


class UnshareForm(forms.Form):
    email = forms.EmailField()


class SchemaKeyForm(forms.Form):
    key = forms.CharField(max_length=256)
    kind = forms.ChoiceField(choices=KIND_CHOICES, label="Type")
    values = forms.CharField(
        required=False, label="Enum values", help_text="Comma-separated; for an enum only (adds to an existing one)."
    )

    def clean(self):
        data = super().clean()
        data["value_list"] = [v for v in (data.get("values") or "").split(",") if v.strip()]
        if data.get("kind") == "enum" and not data["value_list"]:
            self.add_error("values", "An enum needs at least one value.")
        return data


class SchemaKeyActionForm(forms.Form):
    key = forms.CharField(max_length=256)


class LinkForm(forms.Form):
    dataset = forms.ChoiceField(label="Dataset")
    duplicates = forms.ChoiceField(choices=DUPLICATE_CHOICES, initial="SKIP", label="Items already there")

    def __init__(self, *args, targets=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].choices = [(str(t.dataset_hash), t.title) for t in targets]
