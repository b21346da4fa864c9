"""UserClient: the user-level half of the SDK (Encord's EncordUserClient, in-process)."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any, Iterable

from django.db import transaction
from django.db.models import F, Q, QuerySet

from datasets_app import crypto
from datasets_app import models as m

from . import convert, job_listing, key_secrets, orm
from .accounts import mint_bearer_token, refuse_bearer_token
from .dataset import Dataset, api_key_to_orm
from .exceptions import AuthenticationError, InvalidArgumentError, ResourceNotFoundError
from .job_listing import JobFilters
from .policy import Op, Principal, may, parse_hash, require, require_org, role_subquery, usable_integrations
from .validation import (
    clean_datetime,
    clean_description,
    clean_like,
    clean_list,
    clean_optional_str,
    clean_title,
)


class UserClient:
    """Everything a signed-in user does outside one dataset, plus the way into one."""

    def __init__(self, user: m.User) -> None:
        if user is None or not user.is_active:
            raise AuthenticationError("This account is not active.")
        self.user = user
        self.principal = Principal(user=user)

    @classmethod
    def for_user(cls, user: m.User) -> UserClient:
        return cls(user)

    @classmethod
    def for_principal(cls, principal: Principal) -> UserClient:
        """The client of an authenticated request's user, keeping how it authenticated (a bearer
        token may do what its user may, except mint another token)."""
        if principal.is_key:
            raise AuthenticationError(
                "This call needs your SSH key signature; a dataset API key cannot make it."
            )
        client = cls(principal.user)
        client.principal = principal
        return client

    # ---- datasets ---------------------------------------------------------------------------

    def create_dataset(
        self,
        dataset_title: str,
        dataset_type: orm.StorageLocation | int | str = orm.StorageLocation.CORD_STORAGE,
        dataset_description: str | None = None,
        create_backing_folder: bool = True,
    ) -> orm.CreateDatasetResponse:
        """Creates a dataset whose creator is its ADMIN. With `create_backing_folder` (the default)
        it is a mirror: a top-level storage folder named after it, owned by the creator, holds its
        items (backing_folder_uuid); without, a plain dataset (backing_folder_uuid None) whose rows
        are linked items. Two or three queries."""
        title = clean_title(dataset_title)
        description = clean_description(dataset_description)
        try:
            storage = orm.StorageLocation.parse(dataset_type)
        except ValueError as exc:
            raise InvalidArgumentError(str(exc), field="dataset_type") from None
        if not isinstance(create_backing_folder, bool):
            raise InvalidArgumentError("create_backing_folder must be true or false.", field="create_backing_folder")
        with transaction.atomic():
            folder = (
                m.StorageFolder.objects.create(name=title, owner=self.user) if create_backing_folder else None
            )
            ds = m.Dataset.objects.create(
                title=title,
                description=description,
                storage_location=storage,
                created_by=self.user,
                backing_folder=folder,
            )
            m.DatasetMembership.objects.create(dataset=ds, user=self.user, role=m.DatasetUserRole.ADMIN)
            # Its counters from the start, so each write to it is one UPDATE (dataset_stats.apply).
            m.DatasetStats.objects.create(dataset=ds)
        return orm.CreateDatasetResponse(
            title=ds.title,
            type=storage,
            dataset_hash=str(ds.dataset_hash),
            user_hash=str(self.user.user_hash),
            backing_folder_uuid=convert.uuid_or_none(ds.backing_folder_uuid),
        )

    def visible_datasets(self, *, include_org_access: bool = False) -> QuerySet[m.Dataset]:
        """Datasets this user may see, annotated with `user_role` (None for org-only access)."""
        if include_org_access and may(self.principal, Op.SEE_ORGANISATION):
            qs = m.Dataset.objects.annotate(user_role=role_subquery(self.user))
        else:
            qs = m.Dataset.objects.filter(memberships__user=self.user).annotate(user_role=F("memberships__role"))
        return qs.select_related("created_by", "backing_folder")

    def get_datasets(
        self,
        title_eq: str | None = None,
        title_like: str | None = None,
        desc_eq: str | None = None,
        desc_like: str | None = None,
        created_before: dt.datetime | None = None,
        created_after: dt.datetime | None = None,
        edited_before: dt.datetime | None = None,
        edited_after: dt.datetime | None = None,
        include_org_access: bool = False,
    ) -> list[dict[str, Any]]:
        """`[{"dataset": DatasetInfo, "user_role": DatasetUserRole | None}]`, newest first. One query."""
        qs = self.filter_datasets(
            self.visible_datasets(include_org_access=include_org_access),
            title_eq=title_eq,
            title_like=title_like,
            desc_eq=desc_eq,
            desc_like=desc_like,
            created_before=created_before,
            created_after=created_after,
            edited_before=edited_before,
            edited_after=edited_after,
        )
        return [
            {
                "dataset": convert.dataset_info(ds),
                "user_role": orm.DatasetUserRole(ds.user_role) if ds.user_role is not None else None,
            }
            for ds in qs
        ]

    @staticmethod
    def filter_datasets(
        qs: QuerySet[m.Dataset],
        *,
        title_eq: str | None = None,
        title_like: str | None = None,
        desc_eq: str | None = None,
        desc_like: str | None = None,
        created_before: Any = None,
        created_after: Any = None,
        edited_before: Any = None,
        edited_after: Any = None,
    ) -> QuerySet[m.Dataset]:
        conditions = Q()
        if (v := clean_optional_str(title_eq, "title_eq")) is not None:
            conditions &= Q(title=v)
        if (v := clean_like(title_like, "title_like")) is not None:
            conditions &= Q(title__ilike=v)
        if (v := clean_optional_str(desc_eq, "desc_eq")) is not None:
            conditions &= Q(description=v)
        if (v := clean_like(desc_like, "desc_like")) is not None:
            conditions &= Q(description__ilike=v)
        for name, value, lookup in (
            ("created_before", created_before, "created_at__lt"),
            ("created_after", created_after, "created_at__gt"),
            ("edited_before", edited_before, "last_edited_at__lt"),
            ("edited_after", edited_after, "last_edited_at__gt"),
        ):
            if (when := clean_datetime(value, name)) is not None:
                conditions &= Q(**{lookup: when})
        return qs.filter(conditions).order_by("-created_at", "-id")

    def get_dataset(self, dataset_hash: str) -> Dataset:
        """The dataset if this user may read it; ResourceNotFoundError otherwise. One query."""
        return Dataset(require(self.principal, dataset_hash, Op.READ), self.principal)

    def get_bearer_token(self) -> str:
        """A new bearer token for this user (24 h), only for a request signed with the user's
        Ed25519 key (AuthorisationError otherwise); only its digest is stored. One insert."""
        return mint_bearer_token(self.principal)

    # ---- jobs -------------------------------------------------------------------------------

    def get_jobs(self, *, limit: int = 100, filters: JobFilters | None = None) -> list[orm.JobSummary]:
        """The jobs this user may list, newest first, narrowed by `filters`: their own in the datasets
        they can still open, and with whose="everyone" every job where they hold Op.SEE_JOBS
        (job_listing). Two queries whatever the count."""
        return job_listing.list_jobs(self.principal, limit=limit, filters=filters)

    def job_datasets(self, *, whose: str = "everyone", limit: int = 200) -> list[tuple[str, str]]:
        """(dataset_hash, title) of the datasets holding jobs this user may list, by title: the
        Jobs page's dataset filter. One query."""
        return job_listing.job_datasets(self.principal, whose=whose, limit=limit)

    def sees_others_jobs(self) -> bool:
        """Whether this user may list anyone else's jobs (Op.SEE_JOBS somewhere). One query."""
        return job_listing.sees_others_jobs(self.principal)

    # ---- cloud integrations -----------------------------------------------------------------

    def require_org_admin(self) -> None:
        """AuthorisationError unless this user is an organisation admin (who manages integrations);
        pages call it before showing integration forms. No query."""
        require_org(self.principal, Op.MANAGE_INTEGRATIONS, "Only organisation admins manage cloud integrations.")

    def visible_integrations(self, *, include_org_access: bool = False) -> QuerySet[m.CloudIntegration]:
        """This user's integrations (all of them for an organisation admin with include_org_access)."""
        return usable_integrations(self.principal, include_org_access=include_org_access)

    def get_cloud_integrations(
        self,
        filter_integration_uuids: Iterable[str] | None = None,
        filter_integration_titles: Iterable[str] | None = None,
        include_org_access: bool = False,
    ) -> list[orm.CloudIntegration]:
        qs = self.visible_integrations(include_org_access=include_org_access)
        if filter_integration_uuids is not None:
            uuids = [parse_hash(u, "integration id") for u in clean_list(filter_integration_uuids, "uuids")]
            qs = qs.filter(integration_uuid__in=uuids)
        if filter_integration_titles is not None:
            qs = qs.filter(title__in=[str(t) for t in clean_list(filter_integration_titles, "titles")])
        return [orm.CloudIntegration(id=str(i.integration_uuid), title=i.title, provider=i.provider) for i in qs]

    def create_cloud_integration(
        self,
        title: str,
        provider: str,
        *,
        config: dict | None = None,
        credentials: dict | None = None,
        allow_private_network: bool = False,
        owner: m.User | None = None,
    ) -> orm.CloudIntegration:
        """Registers an integration (organisation admins only; `owner` defaults to this user).
        Credentials are encrypted at rest and never returned. See sdk/private_data.py."""
        from .private_data import integration_create

        require_org(self.principal, Op.MANAGE_INTEGRATIONS, "Only organisation admins can add cloud integrations.")
        i = integration_create(
            owner=owner or self.user, title=title, provider=provider, config=config,
            credentials=credentials, allow_private_network=allow_private_network,
        )
        return orm.CloudIntegration(id=str(i.integration_uuid), title=i.title, provider=i.provider)

    def delete_cloud_integration(self, integration_id: str) -> None:
        """Deletes an integration this user owns (or any, for an organisation admin)."""
        from .private_data import integration_delete

        integration_delete(self.principal, integration_id)

    # ---- dataset API keys (dataset ADMINs) ----------------------------------------------------

    def create_dataset_api_key(
        self,
        dataset_hash: str,
        api_key_title: str,
        dataset_scopes: Iterable[orm.DatasetScope | str],
        expires_at: dt.datetime | None = None,
        *,
        via: str = key_secrets.IN_PROCESS,
    ) -> orm.DatasetAPIKey:
        """A new key; its secret is returned here and stays retrievable by the dataset's ADMINs
        (each time recorded, this one too: `via` says through what). Three queries."""
        refuse_bearer_token(self.principal, "Creating a dataset API key")
        ds = require(self.principal, dataset_hash, Op.MANAGE)
        title = clean_title(api_key_title, "API key title")
        scopes = set()
        for scope in clean_list(dataset_scopes, "dataset_scopes", max_items=10):
            try:
                scopes.add(orm.DatasetScope(scope))
            except ValueError:
                raise InvalidArgumentError(
                    f"Unknown scope {scope!r}: use 'dataset.read' and/or 'dataset.write'.", field="dataset_scopes"
                ) from None
        if not scopes:
            raise InvalidArgumentError("Give at least one scope: 'dataset.read', 'dataset.write'.")
        expires = clean_datetime(expires_at, "expires_at")
        # URL-safe base64 has no ':' and never starts with "Bearer ", so the API can tell it apart.
        secret = secrets.token_urlsafe(32)
        with transaction.atomic():
            key = m.DatasetAPIKey.objects.create(
                dataset=ds,
                title=title,
                can_read=orm.DatasetScope.READ in scopes,
                can_write=orm.DatasetScope.WRITE in scopes,
                secret_encrypted=crypto.encrypt(secret),
                secret_digest=crypto.secret_digest(secret),
                created_by=self.user,
                expires_at=expires,
            )
            key_secrets.record_reveals(self.user, [key], via)
        key.dataset = ds
        return api_key_to_orm(key, secret=secret)

    def _api_key_rows(
        self, dataset_hash: str, include_revoked: bool
    ) -> tuple[m.Dataset, list[m.DatasetAPIKey]]:
        """(the dataset, its keys oldest first) if this user may manage it. Two queries."""
        ds = require(self.principal, dataset_hash, Op.MANAGE)
        qs = ds.api_keys.all()
        if not include_revoked:
            qs = qs.filter(revoked_at__isnull=True)
        keys = list(qs)
        for key in keys:
            key.dataset = ds
        return ds, keys

    def get_dataset_api_keys(
        self, dataset_hash: str, *, include_revoked: bool = False, via: str = key_secrets.IN_PROCESS
    ) -> list[orm.DatasetAPIKey]:
        """The dataset's keys, oldest first, secrets included (Encord's SDK expects them): each
        secret handed out is recorded as a reveal, `via` saying through what. Three queries."""
        refuse_bearer_token(self.principal, "Fetching API key secrets")
        _ds, keys = self._api_key_rows(dataset_hash, include_revoked)
        key_secrets.record_reveals(self.user, keys, via)
        return [api_key_to_orm(key) for key in keys]

    def list_dataset_api_keys(
        self, dataset_hash: str, *, include_revoked: bool = False
    ) -> tuple[list[orm.DatasetAPIKey], list[m.APIKeySecretReveal]]:
        """(the dataset's keys oldest first, its latest 50 secret reveals newest first) for its
        ADMINs. Keys come WITHOUT their secrets: `api_key` holds a mask and the last four
        characters, enough to tell keys apart; so this is not a reveal. Three queries."""
        ds, keys = self._api_key_rows(dataset_hash, include_revoked)
        masked = [
            api_key_to_orm(key, secret="••••••••" + crypto.decrypt(key.secret_encrypted)[-4:]) for key in keys
        ]
        return masked, key_secrets.recent_reveals(ds)

    def get_or_create_dataset_api_key(
        self, dataset_hash: str, *, via: str = key_secrets.IN_PROCESS
    ) -> orm.DatasetAPIKey:
        """The oldest live key with both scopes (its secret revealed, and recorded), or a new one."""
        refuse_bearer_token(self.principal, "Fetching API key secrets")
        full = {orm.DatasetScope.READ, orm.DatasetScope.WRITE}
        for key in self._api_key_rows(dataset_hash, False)[1]:
            if key.can_read and key.can_write:
                key_secrets.record_reveals(self.user, [key], via)
                return api_key_to_orm(key)
        return self.create_dataset_api_key(
            dataset_hash, f"{parse_hash(dataset_hash)} - admin key", list(full), via=via
        )

    def revoke_dataset_api_key(self, dataset_hash: str, key_hash: str) -> None:
        ds = require(self.principal, dataset_hash, Op.MANAGE)
        updated = m.DatasetAPIKey.objects.filter(
            dataset=ds, key_hash=parse_hash(key_hash, "key_hash"), revoked_at__isnull=True
        ).update(revoked_at=dt.datetime.now(dt.timezone.utc))
        if not updated and not ds.api_keys.filter(key_hash=parse_hash(key_hash, "key_hash")).exists():
            raise ResourceNotFoundError("API key not found.")

