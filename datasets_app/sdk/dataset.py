"""Dataset: one dataset as seen by one principal (Encord's Dataset, in-process)."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from typing import Any, Iterable, Iterator

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from datasets_app import crypto
from datasets_app import models as m

from . import convert, orm
from .dicom_slices import DicomSlicesMixin
from .exceptions import AuthenticationError, InvalidArgumentError, ResourceNotFoundError
from .item_deletion import dataset_delete, dataset_rows_delete
from .policy import (
    Op,
    Principal,
    allowed,
    grants_of,
    parse_hash,
    require,
    require_key_dataset,
    usable_integrations,
)
from .reencode import ReEncodeMixin
from .uploads import UploadsMixin
from .validation import clean_datetime, clean_like, clean_list, clean_optional_str, clean_title


def api_key_to_orm(key: m.DatasetAPIKey, *, secret: str | None = None) -> orm.DatasetAPIKey:
    return orm.DatasetAPIKey(
        dataset_hash=str(key.dataset.dataset_hash),
        api_key=secret if secret is not None else crypto.decrypt(key.secret_encrypted),
        title=key.title,
        key_hash=str(key.key_hash),
        scopes=[orm.DatasetScope(s) for s in key.scopes],
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        expires_at=key.expires_at,
        revoked=key.revoked_at is not None,
    )


def authenticate_api_key(api_key: str) -> m.DatasetAPIKey:
    """The live key for a secret, else AuthenticationError (unknown, revoked or expired). One query."""
    if not isinstance(api_key, str) or not api_key or len(api_key) > 200:
        raise AuthenticationError("Missing or malformed API key.")
    key = (
        m.DatasetAPIKey.objects.select_related("dataset__backing_folder")
        .filter(secret_digest=crypto.secret_digest(api_key))
        .first()
    )
    if key is None or key.revoked_at is not None:
        raise AuthenticationError("Unknown or revoked API key.")
    now = timezone.now()
    if key.expires_at is not None and key.expires_at <= now:
        raise AuthenticationError("This API key has expired; ask a dataset ADMIN for a new one.")
    # Record use at most once a minute, so reads stay cheap.
    if key.last_used_at is None or now - key.last_used_at > dt.timedelta(minutes=1):
        m.DatasetAPIKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def _encode_cursor(row: m.DataRow) -> str:
    raw = f"{row.created_at.isoformat()}|{row.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    """(created_at, id) of a data_rows_page cursor; InvalidArgumentError for anything else."""
    try:
        raw = base64.urlsafe_b64decode(str(cursor) + "=" * (-len(str(cursor)) % 4)).decode()
        when, pk = raw.rsplit("|", 1)
        created_at = dt.datetime.fromisoformat(when)
        if created_at.tzinfo is None:
            raise ValueError("naive")
        return created_at, int(pk)
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgumentError("The page cursor is not valid; start again from the first page.", field="after") from None


class Dataset(UploadsMixin, ReEncodeMixin, DicomSlicesMixin):
    """A dataset, checked against the policy on every call for the principal that opened it."""

    def __init__(self, dataset: m.Dataset, principal: Principal) -> None:
        self._ds = dataset
        self.principal = principal

    @classmethod
    def from_api_key(cls, dataset_hash: str, api_key: str) -> Dataset:
        """Resource authentication: the key's dataset, limited to the key's scopes."""
        key = authenticate_api_key(api_key)
        return cls.of_key(Principal(api_key=key), parse_hash(dataset_hash, "dataset_hash"))

    @classmethod
    def of_key(cls, principal: Principal, dataset_uuid: uuid.UUID | None) -> Dataset:
        """A dataset API key's own dataset (AuthorisationError for any other); no scope is checked
        here because each method checks the operation it performs. No query."""
        ds = require_key_dataset(principal.api_key, dataset_uuid)
        ds.my_role = None  # type: ignore[attr-defined]
        return cls(ds, principal)

    # ---- properties -------------------------------------------------------------------------

    @property
    def model(self) -> m.Dataset:
        return self._ds

    @property
    def dataset_hash(self) -> str:
        return str(self._ds.dataset_hash)

    @property
    def title(self) -> str:
        return self._ds.title

    @property
    def description(self) -> str:
        return self._ds.description

    @property
    def storage_location(self) -> orm.StorageLocation:
        return orm.StorageLocation(self._ds.storage_location)

    @property
    def backing_folder_uuid(self) -> str | None:
        """The backing folder's uuid (a mirror dataset), None for a plain dataset."""
        return convert.uuid_or_none(self._ds.backing_folder_uuid)

    @property
    def user_role(self) -> orm.DatasetUserRole | None:
        role = getattr(self._ds, "my_role", None)
        return orm.DatasetUserRole(role) if role is not None else None

    def can(self, op: Op) -> bool:
        """Whether this principal may do `op` here (for showing or hiding actions in pages)."""
        return allowed(op, grants_of(self.principal, self._ds, getattr(self._ds, "my_role", None)))

    def require(self, op: Op) -> None:
        """Raises the policy's typed error unless this principal may do `op` now (one query).

        Pages call it before showing a form for an operation, so a form is never shown to
        someone whose submission would be refused."""
        self._require(op)

    def _require(self, op: Op) -> m.Dataset:
        # Re-checked each call: a membership or key can change while an object is held.
        self._ds = require(self.principal, self._ds.dataset_hash, op)
        return self._ds

    @property
    def data_rows(self) -> list[orm.DataRow]:
        return self.list_data_rows()

    # ---- data rows --------------------------------------------------------------------------

    def data_rows_queryset(
        self,
        title_eq: str | None = None,
        title_like: str | None = None,
        created_before: Any = None,
        created_after: Any = None,
        data_types: Iterable[orm.DataType | str] | None = None,
        data_hashes: Iterable[str] | None = None,
    ) -> QuerySet[m.DataRow]:
        """The rows matching the filters (AND), oldest first, with their items; checks READ. Lazy."""
        ds = self._require(Op.READ)
        conditions = Q(dataset=ds)
        if (v := clean_optional_str(title_eq, "title_eq")) is not None:
            conditions &= Q(item__name=v)
        if (v := clean_like(title_like, "title_like")) is not None:
            conditions &= Q(item__name__ilike=v)
        if (when := clean_datetime(created_before, "created_before")) is not None:
            conditions &= Q(created_at__lt=when)
        if (when := clean_datetime(created_after, "created_after")) is not None:
            conditions &= Q(created_at__gt=when)
        if data_types is not None:
            try:
                types = {orm.DataType.parse(t).value for t in clean_list(data_types, "data_types", max_items=20)}
            except ValueError as exc:
                raise InvalidArgumentError(str(exc), field="data_types") from None
            conditions &= Q(item__item_type__in=types)
        if data_hashes is not None:
            hashes = [parse_hash(h, "data_hash") for h in clean_list(data_hashes, "data_hashes")]
            conditions &= Q(data_hash__in=hashes)
        return (
            m.DataRow.objects.filter(conditions)
            .select_related("item", "item__integration")
            .order_by("created_at", "id")
        )

    def data_rows_page(
        self,
        *,
        after: str | None = None,
        limit: int = 100,
        title_like: str | None = None,
        data_types: Iterable[orm.DataType | str] | None = None,
    ) -> tuple[list[m.DataRow], str | None]:
        """One page of rows (oldest first) after the opaque cursor `after`, and the cursor of the next
        page (None on the last). Keyset pagination: the cost is the same on page 1 and page 10,000
        (an index seek on (dataset, created_at, id)), never OFFSET; no COUNT. Two queries."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise InvalidArgumentError("limit must be an integer from 1 to 1000.", field="limit")
        qs = self.data_rows_queryset(title_like=title_like, data_types=data_types)
        if after:
            created_at, pk = _decode_cursor(after)
            # The redundant created_at >= bound lets PostgreSQL seek the index instead of filtering.
            qs = qs.filter(Q(created_at__gte=created_at) & (Q(created_at__gt=created_at) | Q(id__gt=pk)))
        rows = list(qs[: limit + 1])
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, (_encode_cursor(rows[-1]) if more else None)

    def list_data_rows(
        self,
        title_eq: str | None = None,
        title_like: str | None = None,
        created_before: Any = None,
        created_after: Any = None,
        data_types: Iterable[orm.DataType | str] | None = None,
        data_hashes: Iterable[str] | None = None,
        *,
        with_metadata: bool = True,
    ) -> list[orm.DataRow]:
        """Matching rows as DataRow objects. Two queries whatever the count."""
        return list(
            self.iter_data_rows(
                title_eq, title_like, created_before, created_after, data_types, data_hashes, with_metadata=with_metadata
            )
        )

    def _get_row(self, data_hash: str, op: Op) -> m.DataRow:
        ds = self._require(op)
        row = (
            m.DataRow.objects.select_related("item", "item__integration")
            .filter(dataset=ds, data_hash=parse_hash(data_hash, "data_hash"))
            .first()
        )
        if row is None:
            raise ResourceNotFoundError(f"Data item {data_hash} not found in this dataset.", data_hash=str(data_hash))
        return row

    def iter_data_rows(
        self,
        title_eq: str | None = None,
        title_like: str | None = None,
        created_before: Any = None,
        created_after: Any = None,
        data_types: Iterable[orm.DataType | str] | None = None,
        data_hashes: Iterable[str] | None = None,
        *,
        with_metadata: bool = True,
    ) -> Iterator[orm.DataRow]:
        """list_data_rows, lazily: READ is checked now; rows are read 2000 at a time as consumed,
        so memory stays flat whatever the count (the API streams 100k-row datasets this way)."""
        qs = self.data_rows_queryset(title_eq, title_like, created_before, created_after, data_types, data_hashes)
        return convert.data_rows_fast(qs, with_metadata=with_metadata)

    def refetch_data(self) -> None:
        """Re-reads the dataset's own fields (title, description...); checks READ. One query."""
        self._require(Op.READ)

    def get_data_row(
        self,
        data_hash: str,
        signed_url: bool = False,
        images_data: bool = False,
        image_signed_urls: bool = False,
        client_metadata: bool = False,
        *,
        base_url: str | None = None,
    ) -> orm.DataRow:
        """One row (READ). `images_data` fills the image-group/series members in data_sequence order
        (one more query); `client_metadata` includes the metadata. `signed_url` / `image_signed_urls`
        fill time-limited download URLs (hosted: S3 presigned or our signed media endpoint, made
        absolute with `base_url`; external: the integration's provider URL). No query for signing."""
        row = self._get_row(data_hash, Op.READ)
        from datasets_app.media.downloads import signed_file_url

        images = None
        if images_data:
            storage = convert.row_storage_location(row)
            images = [
                orm.ImageData(
                    image_hash=str(member.image_hash),
                    title=member.title,
                    data_sequence=member.data_sequence,
                    file_link=member.url or member.storage_key or None,
                    file_type=member.mime_type,
                    file_size=member.file_size,
                    storage_location=storage,
                    created_at=member.created_at,
                    last_edited_at=member.last_edited_at,
                    width=member.width,
                    height=member.height,
                    signed_url=signed_file_url(
                        member.storage_key, member.url, row.integration, base_url=base_url, filename=member.title
                    )
                    if image_signed_urls
                    else None,
                )
                for member in row.members.order_by("data_sequence")
            ]
        url = None
        if signed_url and row.data_type != m.DataType.DICOM:
            url = signed_file_url(row.storage_key, row.url, row.integration, base_url=base_url, filename=row.title)
        return convert.data_row(row, with_metadata=client_metadata, images_data=images, signed_url=url)

    def preview_urls(self, rows: Iterable[m.DataRow], *, base_url: str | None = None) -> dict[str, str]:
        """Signed thumbnail URLs of hosted rows already read through this dataset (from
        data_rows_queryset, which checked READ), by data hash; rows without a thumbnail are absent.
        No query: signing is local."""
        from datasets_app.media.downloads import signed_download_url

        return {
            str(r.data_hash): signed_download_url(r.thumbnail_key, base_url=base_url)
            for r in rows
            if r.thumbnail_key and r.dataset_id == self._ds.pk
        }

    def image_group_images(self, data_hash: str, *, base_url: str | None = None) -> list[tuple[orm.ImageData, str | None]]:
        """The images of an image group or DICOM series in data_sequence order (READ), each with
        a signed URL of its file and of its thumbnail (None when there is none). Two queries."""
        from datasets_app.media.downloads import signed_download_url

        row = self._get_row(data_hash, Op.READ)
        location = convert.row_storage_location(row)
        out = []
        for member in row.members.order_by("data_sequence"):
            image = orm.ImageData(
                image_hash=str(member.image_hash),
                title=member.title,
                data_sequence=member.data_sequence,
                file_link=member.url or member.storage_key or None,
                file_type=member.mime_type,
                file_size=member.file_size,
                storage_location=location,
                created_at=member.created_at,
                last_edited_at=member.last_edited_at,
                width=member.width,
                height=member.height,
                signed_url=signed_download_url(member.storage_key, base_url=base_url) if member.storage_key else None,
            )
            thumb = signed_download_url(member.thumbnail_key, base_url=base_url) if member.thumbnail_key else None
            out.append((image, thumb))
        return out

    def sequence_video(self, data_hash: str, *, base_url: str | None = None) -> orm.SequenceVideo | None:
        """The video made of an image group created with create_video (READ), or None when none
        was asked for: its status, and once DONE a signed URL, frame rate and frame count."""
        from datasets_app.media.downloads import signed_download_url

        row = self._get_row(data_hash, Op.READ)
        if not row.sequence_video_status:
            return None
        details = (row.media_info or {}).get("sequence_video") or {}
        return orm.SequenceVideo(
            status=row.sequence_video_status,
            signed_url=signed_download_url(row.sequence_video_key, base_url=base_url)
            if row.sequence_video_key
            else None,
            fps=details.get("fps"),
            frame_count=details.get("frame_count"),
            error=details.get("error", ""),
        )

    def get_cloud_integrations(self) -> list[orm.CloudIntegration]:
        """Integrations usable with this dataset (USE_INTEGRATION: not for READ-only keys): a
        user's own ones, or for an API key those of its creator while the creator may still
        import here (policy.usable_integrations). Two queries at most after the check."""
        self._require(Op.USE_INTEGRATION)
        return [
            orm.CloudIntegration(id=str(i.integration_uuid), title=i.title, provider=i.provider)
            for i in usable_integrations(self.principal)
        ]

    def update_data_row(
        self, data_hash: str, *, title: str | None = None, client_metadata: dict | None = None
    ) -> tuple[list[str], orm.DataRow | None]:
        """Sets the given fields (metadata replaces, it does not merge) on the row's storage item, so
        every dataset linking it sees them; returns what changed and the row as it now is, or None
        for a principal that may not read rows (a WRITE-only key): writing a row must not be a way
        to read it."""
        row = self._get_row(data_hash, Op.WRITE_DATA)
        item = row.item
        updated: list[str] = []
        if title is not None:
            item.name = clean_title(title)
            updated.append("data_title")
        if client_metadata is not None:
            if not isinstance(client_metadata, dict):
                raise InvalidArgumentError("client_metadata must be a JSON object.", field="client_metadata")
            item.client_metadata = client_metadata
            updated.append("client_metadata")
        if updated:
            item.save(update_fields=["name", "client_metadata", "last_edited_at"])
            m.Dataset.objects.filter(pk=row.dataset_id).update(last_edited_at=timezone.now())
        return updated, (convert.data_row(row) if self.can(Op.READ) else None)

    def update_data_item(self, data_hash: str, new_title: str) -> bool:
        """Renames one data item; False if the hash is not in this dataset."""
        try:
            self.update_data_row(data_hash, title=new_title)
        except ResourceNotFoundError:
            return False
        return True

    def delete_data(self, data_hashes: Iterable[str] | str) -> int:
        """Deletes the rows at once (hashes of other datasets are ignored). A mirror dataset's rows
        take their items along (unless another dataset links one), whose hosted files follow in a
        job after commit; a plain dataset's rows are links, and only the links go
        (sdk/item_deletion.py). Returns how many rows went."""
        ds = self._require(Op.DELETE_DATA)
        if isinstance(data_hashes, str):
            data_hashes = [data_hashes]
        hashes = [parse_hash(h, "data_hash") for h in clean_list(data_hashes, "data_hashes")]
        with transaction.atomic():
            count = dataset_rows_delete(ds, m.DataRow.objects.filter(dataset=ds, data_hash__in=hashes))
            if count:
                m.Dataset.objects.filter(pk=ds.pk).update(last_edited_at=timezone.now())
        return count

    # ---- dataset itself (ADMIN) ---------------------------------------------------------------

    def rename(self, title: str | None = None, description: str | None = None) -> None:
        ds = self._require(Op.MANAGE)
        from .validation import clean_description

        if title is not None:
            ds.title = clean_title(title)
        if description is not None:
            ds.description = clean_description(description)
        ds.save(update_fields=["title", "description", "last_edited_at"])

    def delete(self) -> None:
        """Deletes the dataset, its rows, keys and jobs. A mirror's backing folder loses the items
        no other dataset links (hosted files follow after commit), and goes if then empty; a plain
        dataset's linked items stay (sdk/item_deletion.py)."""
        ds = self._require(Op.MANAGE)
        with transaction.atomic():
            dataset_delete(ds)

    # ---- members ----------------------------------------------------------------------------

    def _emails(self, user_emails: Iterable[str]) -> list[str]:
        emails = []
        for e in clean_list(user_emails, "user_emails", max_items=1000):
            if not isinstance(e, str) or "@" not in e:
                raise InvalidArgumentError(f"{e!r} is not an e-mail address.", field="user_emails")
            emails.append(e.strip())
        return emails

    def add_users(self, user_emails: Iterable[str], user_role: orm.DatasetUserRole | int) -> list[orm.DatasetUser]:
        """Adds members; existing members keep their role.

        Organisation admins hear which addresses have no account (and then nobody is added). Anyone
        else gets the same answer whether an account exists or not: addresses without an account are
        listed as if added, with the address as given, and nothing is stored for them."""
        ds = self._require(Op.MANAGE)
        if not allowed(Op.LOOK_UP_ACCOUNTS, ds.my_grants):
            return self._add_users_quietly(ds, user_role, user_emails)
        try:
            role = orm.DatasetUserRole.parse(user_role)
        except ValueError as exc:
            raise InvalidArgumentError(str(exc), field="user_role") from None
        emails = self._emails(user_emails)
        users = {u.email.lower(): u for u in m.User.objects.filter(email__in=emails)}
        if len(users) < len({e.lower() for e in emails}):
            users.update({u.email.lower(): u for u in m.User.objects.filter(
                Q(*[Q(email__iexact=e) for e in emails], _connector=Q.OR))})
        missing = [e for e in emails if e.lower() not in users]
        if missing:
            raise ResourceNotFoundError(f"No user with e-mail {', '.join(missing)}.", user_emails=missing)
        with transaction.atomic():
            existing = {ms.user_id: ms.role for ms in ds.memberships.filter(user__in=users.values())}
            m.DatasetMembership.objects.bulk_create(
                [m.DatasetMembership(dataset=ds, user=u, role=role) for u in users.values() if u.pk not in existing],
                ignore_conflicts=True,
            )
        return [
            orm.DatasetUser(
                user_email=users[e.lower()].email,
                user_role=orm.DatasetUserRole(existing.get(users[e.lower()].pk, role)),
                dataset_hash=str(ds.dataset_hash),
            )
            for e in emails
        ]

    def _add_users_quietly(self, ds: m.Dataset, user_role: Any, user_emails: Iterable[str]) -> list[orm.DatasetUser]:
        try:
            role = orm.DatasetUserRole.parse(user_role)
        except ValueError as exc:
            raise InvalidArgumentError(str(exc), field="user_role") from None
        emails = self._emails(user_emails)
        q = Q(*[Q(email__iexact=e) for e in emails], _connector=Q.OR)
        users = {u.email.lower(): u for u in m.User.objects.filter(q)}
        with transaction.atomic():
            # Members of this dataset are no secret to its ADMIN (list_users): they keep role and spelling.
            members = {ms.user.email.lower(): ms for ms in ds.memberships.select_related("user").filter(
                user__in=users.values())}
            m.DatasetMembership.objects.bulk_create(
                [m.DatasetMembership(dataset=ds, user=u, role=role) for e, u in users.items() if e not in members],
                ignore_conflicts=True,
            )
        answer = []
        for e in emails:
            ms = members.get(e.lower())
            email, member_role = (ms.user.email, orm.DatasetUserRole(ms.role)) if ms else (e, role)
            answer.append(orm.DatasetUser(user_email=email, user_role=member_role, dataset_hash=str(ds.dataset_hash)))
        return answer

    def list_users(self) -> list[orm.DatasetUser]:
        ds = self._require(Op.MANAGE if self.principal.is_key else Op.READ)
        return [
            orm.DatasetUser(user_email=ms.user.email, user_role=orm.DatasetUserRole(ms.role), dataset_hash=str(ds.dataset_hash))
            for ms in ds.memberships.select_related("user").order_by("created_at", "id")
        ]

    def list_members(self) -> list[orm.DatasetMember]:
        """list_users with each member's standing: ADMIN or not, and the last ADMIN (whom the
        dataset cannot lose: _guard_last_admin)."""
        users = self.list_users()
        admins = sum(1 for u in users if u.user_role == orm.DatasetUserRole.ADMIN)
        return [
            orm.DatasetMember(
                user_email=u.user_email,
                user_role=u.user_role,
                is_admin=u.user_role == orm.DatasetUserRole.ADMIN,
                is_last_admin=u.user_role == orm.DatasetUserRole.ADMIN and admins == 1,
            )
            for u in users
        ]

    def _guard_last_admin(self, ds: m.Dataset, leaving_user_ids: set[int]) -> None:
        admins = set(ds.memberships.filter(role=m.DatasetUserRole.ADMIN).values_list("user_id", flat=True))
        if admins and admins <= leaving_user_ids:
            raise InvalidArgumentError("A dataset needs at least one ADMIN: add another ADMIN first.")

    def remove_users(self, user_emails: Iterable[str]) -> None:
        """Removes members; addresses without access are ignored; the last ADMIN stays."""
        ds = self._require(Op.MANAGE)
        q = Q()
        for e in self._emails(user_emails):
            q |= Q(user__email__iexact=e)
        if not q:
            return
        with transaction.atomic():
            leaving = ds.memberships.select_for_update().filter(q)
            self._guard_last_admin(ds, set(leaving.values_list("user_id", flat=True)))
            leaving.delete()

    def set_user_role(self, user_email: str, user_role: orm.DatasetUserRole | int) -> orm.DatasetUser:
        ds = self._require(Op.MANAGE)
        try:
            role = orm.DatasetUserRole.parse(user_role)
        except ValueError as exc:
            raise InvalidArgumentError(str(exc), field="user_role") from None
        (email,) = self._emails([user_email])
        with transaction.atomic():
            ms = ds.memberships.select_for_update().select_related("user").filter(user__email__iexact=email).first()
            if ms is None:
                raise ResourceNotFoundError(f"{email} is not a member of this dataset.")
            if role != m.DatasetUserRole.ADMIN and ms.role == m.DatasetUserRole.ADMIN:
                self._guard_last_admin(ds, {ms.user_id})
            ms.role = role
            ms.save(update_fields=["role"])
        return orm.DatasetUser(user_email=ms.user.email, user_role=role, dataset_hash=str(ds.dataset_hash))
