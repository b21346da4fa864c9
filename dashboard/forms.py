from __future__ import annotations

import time

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.core.exceptions import ValidationError

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
    created_after = forms.DateField(
        required=False, label="Created from", widget=forms.DateInput(attrs={"type": "date"})
    )
    created_before = forms.DateField(
        required=False, label="Created until", widget=forms.DateInput(attrs={"type": "date"})
    )
    edited_after = forms.DateField(
        required=False, label="Edited from", widget=forms.DateInput(attrs={"type": "date"})
    )
    edited_before = forms.DateField(
        required=False, label="Edited until", widget=forms.DateInput(attrs={"type": "date"})
    )
    all = forms.BooleanField(required=False, label="Whole organisation")


class DatasetCreateForm(forms.Form):
    title = forms.CharField(max_length=settings.MAX_TITLE_LENGTH)
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=settings.MAX_DESCRIPTION_LENGTH
    )
    storage_location = forms.TypedChoiceField(
        choices=STORAGE_CHOICES,
        coerce=int,
        initial=0,
        label="Storage location",
        help_text="A label that Encord’s SDK reports. Files uploaded in the browser or the SDK are stored on "
        "this server whatever you choose; media in your own bucket is added with “Import from cloud”, "
        "through an integration.",
    )


class DataRowFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Title contains", max_length=200)
    data_type = forms.ChoiceField(
        required=False,
        label="Type",
        choices=[
            ("", "All types"),
            ("VIDEO", "Videos"),
            ("IMG_GROUP", "Image groups"),
            ("IMAGE", "Images"),
            ("DICOM", "DICOM"),
        ],
    )


# ---- sign-in ---------------------------------------------------------------------------------

# Failures are counted per account (any address: behind a proxy every client shares one) and, for a
# browser that signed in to that account before, per device. The first LOGIN_FREE_FAILURES cost
# nothing; after that each attempt waits 1, 2, 4, 8 ... up to LOGIN_MAX_WAIT_SECONDS after the last
# failure. A wait is never a lock-out, and an attacker's failures do not slow the owner's browser.
LOGIN_FREE_FAILURES = 5
LOGIN_MAX_WAIT_SECONDS = 60
LOGIN_FAILURE_WINDOW_SECONDS = 15 * 60
DEVICE_COOKIE = "dd_signin_device"
DEVICE_COOKIE_MAX_AGE = 180 * 24 * 3600
_DEVICE_SALT = "dashboard.signin.device"


def login_throttle_key(email: str, device: str = "") -> str:
    import hashlib

    digest = hashlib.sha256(f"{email.strip().lower()}|{device}".encode()).hexdigest()
    return f"login-failures:{digest}"


def device_cookie_value(email: str) -> str:
    """A signed token naming this account and a new device id, set after a successful sign-in."""
    import secrets

    from django.core import signing

    return signing.dumps({"e": email.strip().lower(), "d": secrets.token_urlsafe(16)}, salt=_DEVICE_SALT)


def device_of(request, email: str) -> str:
    """The device id of a valid device cookie for this account, else ""."""
    from django.core import signing

    raw = request.COOKIES.get(DEVICE_COOKIE, "") if request else ""
    try:
        data = signing.loads(raw, salt=_DEVICE_SALT, max_age=DEVICE_COOKIE_MAX_AGE)
    except signing.BadSignature:
        return ""
    if not isinstance(data, dict) or data.get("e") != email.strip().lower():
        return ""
    return str(data.get("d", ""))


def wait_seconds(failures: int) -> int:
    if failures < LOGIN_FREE_FAILURES:
        return 0
    return min(LOGIN_MAX_WAIT_SECONDS, 2 ** (failures - LOGIN_FREE_FAILURES))


class ThrottledAuthenticationForm(AuthenticationForm):
    """Django's sign-in form; after LOGIN_FREE_FAILURES failures for an account each further attempt
    must wait (see above) and is refused unchecked before then. Counted in the cache (the database
    cache by default, so every web process and machine shares the count)."""

    throttled = False
    signed_in_device = ""
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That e-mail and password do not match an account.",
        "throttled": "Too many failed sign-ins for this account. Wait %(seconds)s seconds and try again.",
    }

    def clean(self):
        email = self.cleaned_data.get("username") or ""
        if not email:
            return super().clean()
        device = device_of(self.request, email)
        key = login_throttle_key(email, device)
        now = time.time()
        record = cache.get(key) or {"n": 0, "t": 0.0}
        remaining = int(record["t"] + wait_seconds(record["n"]) - now + 0.999)
        if remaining > 0:
            self.throttled = True
            raise ValidationError(self.error_messages["throttled"], code="throttled", params={"seconds": remaining})
        try:
            cleaned = super().clean()
        except ValidationError:
            cache.set(key, {"n": record["n"] + 1, "t": now}, LOGIN_FAILURE_WINDOW_SECONDS)
            raise
        cache.delete(key)
        if device:
            cache.delete(login_throttle_key(email))
        self.signed_in_device = device
        return cleaned


# ---- dataset settings, data rows ---------------------------------------------------------------


class DatasetSettingsForm(forms.Form):
    title = forms.CharField(max_length=settings.MAX_TITLE_LENGTH)
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=settings.MAX_DESCRIPTION_LENGTH
    )


class DatasetDeleteForm(forms.Form):
    """Deleting a dataset asks for its title, typed (as GitHub asks for a repository's name)."""

    confirm_title = forms.CharField(
        label="Type the dataset’s title to confirm",
        error_messages={"required": "Type the dataset’s title to confirm."},
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(self, *args, title: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = title

    def clean_confirm_title(self):
        typed = self.cleaned_data["confirm_title"]
        if typed.strip() != self.title.strip():
            raise ValidationError("Type the dataset’s title to confirm: what you typed does not match it.")
        return typed


class DataRowRenameForm(forms.Form):
    title = forms.CharField(max_length=settings.MAX_TITLE_LENGTH, label="New title")


class HashesField(forms.MultipleChoiceField):
    """Any number of UUID strings (the SDK checks that they belong to the dataset)."""

    def valid_value(self, value) -> bool:
        import uuid

        try:
            uuid.UUID(str(value))
        except ValueError:
            return False
        return True

    def validate(self, value):
        super().validate(value)
        if len(value) > 500:
            raise ValidationError("Select at most 500 items at a time.")


class DataRowSelectionForm(forms.Form):
    data_hash = HashesField(
        error_messages={
            "required": "Select at least one data item.",
            "invalid_choice": "The selection contains an unknown item.",
        }
    )


# ---- API keys, members, account ----------------------------------------------------------------


class APIKeyCreateForm(forms.Form):
    title = forms.CharField(
        max_length=200, label="Name", help_text="What the key is for, e.g. “training pipeline”."
    )
    scopes = forms.MultipleChoiceField(
        choices=[("dataset.read", "Read (dataset.read)"), ("dataset.write", "Write (dataset.write)")],
        widget=forms.CheckboxSelectMultiple,
        initial=["dataset.read"],
        label="Scopes",
        error_messages={"required": "Choose at least one scope."},
    )
    expires_on = forms.DateField(
        required=False,
        label="Expires on (optional)",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The key stops working at the end of this day (UTC). Leave empty for no expiry.",
    )

    def clean_expires_on(self):
        import datetime as dt

        day = self.cleaned_data.get("expires_on")
        if day and day < dt.datetime.now(dt.UTC).date():
            raise ValidationError("Choose today or a later day.")
        return day


ROLE_CHOICES = [(0, "Admin"), (1, "User")]


class MemberAddForm(forms.Form):
    email = forms.EmailField(label="E-mail", max_length=254)
    role = forms.TypedChoiceField(choices=ROLE_CHOICES, coerce=int, initial=1, label="Role")


class MemberRoleForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.HiddenInput)
    role = forms.TypedChoiceField(choices=ROLE_CHOICES, coerce=int, label="Role")


class MemberRemoveForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.HiddenInput)


class PublicKeyAddForm(forms.Form):
    title = forms.CharField(max_length=200, required=False, label="Name (optional)")
    public_key = forms.CharField(
        label="Public key",
        max_length=4096,
        widget=forms.Textarea(
            attrs={
                "rows": 3,
                "placeholder": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA... you@laptop",
                "spellcheck": "false",
            }
        ),
        help_text="The contents of your ~/.ssh/id_ed25519.pub (OpenSSH format, Ed25519 only).",
    )


class KeyPairGenerateForm(forms.Form):
    title = forms.CharField(max_length=200, required=False, label="Name (optional)")


# ---- cloud integrations, private data ------------------------------------------------------------

PROVIDER_CHOICES = [
    ("s3", "AWS S3 or S3-compatible (MinIO, Ceph, R2…)"),
    ("gcs", "Google Cloud Storage"),
    ("azure", "Azure Blob Storage"),
    ("https", "Plain HTTPS"),
]


def _secret(label: str, help_text: str = "") -> forms.CharField:
    # render_value=False: a secret typed once is never sent back to the browser.
    return forms.CharField(
        required=False,
        label=label,
        max_length=8192,
        help_text=help_text,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


class IntegrationCreateForm(forms.Form):
    title = forms.CharField(max_length=200, label="Name")
    provider = forms.ChoiceField(choices=PROVIDER_CHOICES, label="Provider")
    endpoint_url = forms.URLField(
        required=False,
        assume_scheme="https",
        label="Endpoint URL",
        max_length=1024,
        help_text="S3-compatible services and Azure emulators; for HTTPS, the base URL objects live under.",
    )
    region = forms.CharField(required=False, max_length=64, label="Region (S3)")
    account = forms.CharField(required=False, max_length=200, label="Storage account (Azure)")
    access_key_id = forms.CharField(required=False, max_length=256, label="Access key ID (S3)")
    secret_access_key = _secret("Secret access key (S3)")
    service_account_json = forms.CharField(
        required=False,
        label="Service account JSON (GCS)",
        max_length=64 * 1024,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "autocomplete": "off"}),
        help_text="Write-only: never shown again.",
    )
    account_key = _secret("Account key (Azure)", "Or a SAS token below.")
    sas_token = _secret("SAS token (Azure)")
    bearer_token = _secret("Bearer token (HTTPS, optional)")
    allow_private_network = forms.BooleanField(
        required=False, label="Allow private network addresses (for storage inside your network)"
    )

    def clean(self):
        data = super().clean()
        provider = data.get("provider")
        if provider == "s3" and bool(data.get("access_key_id")) != bool(data.get("secret_access_key")):
            self.add_error(
                "secret_access_key", "Give both the access key ID and the secret, or neither (public bucket)."
            )
        if provider == "gcs" and data.get("service_account_json"):
            import json

            try:
                parsed = json.loads(data["service_account_json"])
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                self.add_error("service_account_json", "Paste the service account's JSON key file.")
        if provider == "azure" and not (data.get("account") or data.get("endpoint_url")):
            self.add_error("account", "An Azure integration needs a storage account name or an endpoint URL.")
        if provider == "https" and not data.get("endpoint_url"):
            self.add_error("endpoint_url", "Give the base URL your files live under.")
        return data

    def config_and_credentials(self) -> tuple[dict, dict]:
        d = self.cleaned_data
        provider = d["provider"]
        if provider == "s3":
            return (
                {"endpoint_url": d["endpoint_url"], "region": d["region"]},
                {"access_key_id": d["access_key_id"], "secret_access_key": d["secret_access_key"]},
            )
        if provider == "gcs":
            import json

            creds = (
                {"service_account_json": json.loads(d["service_account_json"])}
                if d["service_account_json"]
                else {}
            )
            return {"endpoint_url": d["endpoint_url"]}, creds
        if provider == "azure":
            return (
                {"account": d["account"], "endpoint_url": d["endpoint_url"]},
                {"account_key": d["account_key"], "sas_token": d["sas_token"]},
            )
        return {"base_url": d["endpoint_url"]}, {"bearer_token": d["bearer_token"]}


class PrivateDataImportForm(forms.Form):
    integration = forms.ChoiceField(label="Cloud integration", choices=())
    manifest = forms.CharField(
        required=False,
        label="JSON manifest",
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false", "class": "mono"}),
        help_text='{"videos": [{"objectUrl": "s3://bucket/clip.mp4"}], "images": [...], "image_groups": [...], "dicom_series": [...]}',
    )
    manifest_file = forms.FileField(required=False, label="…or upload the JSON file")

    MAX_BYTES = 64 * 1024 * 1024

    def __init__(self, *args, integrations=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["integration"].choices = [(i.id, f"{i.title} ({i.provider})") for i in integrations]

    def clean(self):
        import json

        data = super().clean()
        upload = data.get("manifest_file")
        text = data.get("manifest") or ""
        if upload is not None:
            if upload.size > self.MAX_BYTES:
                self.add_error(
                    "manifest_file", f"The file is larger than {self.MAX_BYTES // (1024 * 1024)} MB."
                )
                return data
            raw = b"".join(upload.chunks())
            text = raw.decode("utf-8", errors="replace")
        if not text.strip():
            self.add_error("manifest", "Paste the manifest or upload it as a file.")
            return data
        try:
            doc = json.loads(text)
        except ValueError as exc:
            self.add_error(
                "manifest_file" if upload is not None else "manifest", f"This is not valid JSON: {exc}."
            )
            return data
        if not isinstance(doc, dict):
            self.add_error(
                "manifest",
                "The manifest must be a JSON object with videos, images, image_groups or dicom_series.",
            )
            return data
        # Parsed here, so the SDK only ever receives a document (never text it could take for a path).
        data["document"] = doc
        return data
