from __future__ import annotations

from django import forms
from django.conf import settings

from datasets_app.sdk.orm import StorageLocation

STORAGE_CHOICES = [
    (StorageLocation.CORD_STORAGE.value, "Hosted by this server"),
    (StorageLocation.AWS.value, "AWS S3"),
    (StorageLocation.GCP.value, "Google Cloud Storage"),
    (StorageLocation.AZURE.value, "Azure Blob Storage"),
    (StorageLocation.S3_COMPATIBLE.value, "S3-compatible"),
]


class DatasetFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Title contains", max_length=200)
    description = forms.CharField(required=False, label="Description contains", max_length=200)
    created_after = forms.DateField(required=False, label="Created from", widget=forms.DateInput(attrs={"type": "date"}))
    created_before = forms.DateField(required=False, label="Created until", widget=forms.DateInput(attrs={"type": "date"}))
    edited_after = forms.DateField(required=False, label="Edited from", widget=forms.DateInput(attrs={"type": "date"}))
    edited_before = forms.DateField(required=False, label="Edited until", widget=forms.DateInput(attrs={"type": "date"}))
    all = forms.BooleanField(required=False, label="Whole organisation")


class DatasetCreateForm(forms.Form):
    title = forms.CharField(max_length=settings.MAX_TITLE_LENGTH)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=settings.MAX_DESCRIPTION_LENGTH)
    storage_location = forms.TypedChoiceField(choices=STORAGE_CHOICES, coerce=int, initial=0, label="Storage location")


class DataRowFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Title contains", max_length=200)
    data_type = forms.ChoiceField(
        required=False,
        label="Type",
        choices=[("", "All types"), ("VIDEO", "Videos"), ("IMG_GROUP", "Image groups"), ("IMAGE", "Images"), ("DICOM", "DICOM")],
    )
