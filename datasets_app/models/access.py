"""Who someone is (users, their Ed25519 keys) and what they may reach (memberships, API keys)."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models


class EmailUserManager(UserManager):
    def create_user(self, email, password=None, **extra):  # type: ignore[override]
        email = self.normalize_email(email)
        extra.setdefault("username", email)
        return super().create_user(email=email, password=password, **extra)

    def create_superuser(self, email, password=None, **extra):  # type: ignore[override]
        email = self.normalize_email(email)
        extra.setdefault("username", email)
        extra.setdefault("is_org_admin", True)
        return super().create_superuser(email=email, password=password, **extra)


class User(AbstractUser):
    """A person; signs in with e-mail. Organisation admins see every dataset and own integrations."""

    email = models.EmailField(unique=True)
    user_hash = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    is_org_admin = models.BooleanField(default=False)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = ["username"]
    objects = EmailUserManager()

    def __str__(self) -> str:
        return self.email


class PublicKey(models.Model):
    """An Ed25519 public key a user signs SDK requests with; looked up by its raw hex."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="public_keys")
    title = models.CharField(max_length=200, blank=True)
    openssh = models.TextField()
    key_hex = models.CharField(max_length=64, unique=True)
    fingerprint = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.fingerprint} ({self.user})"


class DatasetUserRole(models.IntegerChoices):
    ADMIN = 0, "Admin"
    USER = 1, "User"


class DatasetMembership(models.Model):
    dataset = models.ForeignKey("datasets_app.Dataset", on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.SmallIntegerField(choices=DatasetUserRole.choices, default=DatasetUserRole.USER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "user"], name="unique_dataset_member")]
        indexes = [models.Index(fields=["user", "dataset"])]
        ordering = ["created_at", "id"]


class DatasetAPIKey(models.Model):
    """A dataset-scoped bearer secret. Stored encrypted (shown again to ADMINs), found by HMAC digest."""

    SCOPE_READ = "dataset.read"
    SCOPE_WRITE = "dataset.write"
    SCOPES = (SCOPE_READ, SCOPE_WRITE)

    key_hash = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    dataset = models.ForeignKey("datasets_app.Dataset", on_delete=models.CASCADE, related_name="api_keys")
    title = models.CharField(max_length=1024)
    can_read = models.BooleanField(default=False)
    can_write = models.BooleanField(default=False)
    secret_encrypted = models.TextField()
    secret_digest = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["dataset", "created_at"])]

    @property
    def scopes(self) -> list[str]:
        return [s for s, on in ((self.SCOPE_READ, self.can_read), (self.SCOPE_WRITE, self.can_write)) if on]


class BearerToken(models.Model):
    """A bearer token for SDK clients without a key pair; only its keyed digest is stored.

    Minted only by a request signed with one of the user's Ed25519 keys (`public_key`): deleting
    that key deletes the tokens it minted. `prefix` (the first characters of the token) lets its
    owner tell tokens apart on the Account page; it is far too short to use."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="bearer_tokens")
    public_key = models.ForeignKey(
        PublicKey, on_delete=models.CASCADE, null=True, blank=True, related_name="bearer_tokens"
    )
    token_digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]


class APIKeySecretReveal(models.Model):
    """One time a dataset API key's secret was handed out in full (at creation or fetched again),
    kept so the dataset's ADMINs see who has had it. `user_email` outlives the user's row."""

    api_key = models.ForeignKey(DatasetAPIKey, on_delete=models.CASCADE, related_name="reveals")
    dataset = models.ForeignKey("datasets_app.Dataset", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    user_email = models.CharField(max_length=254)
    via = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["dataset", "-created_at"])]
