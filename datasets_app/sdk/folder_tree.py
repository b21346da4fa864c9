"""The Files tree in one query each: which folders a user reaches, a folder's subtree, every
ancestor of some folders (recursive CTEs, the same SQL on SQLite and PostgreSQL), and keyset pages
of folder listings.

Who holds what is decided in folder_access (one folder) and the policy table; this module only
widens that same rule to many folders at once: a user reaches a folder when they own it, are its
member, or are a member of the dataset it mirrors, or the same holds for one of its ancestors.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

from datasets_app import models as m

from .exceptions import InvalidArgumentError

FOLDER = m.StorageFolder._meta.db_table
FOLDER_MEMBER = m.FolderMembership._meta.db_table
DATASET = m.Dataset._meta.db_table
DATASET_MEMBER = m.DatasetMembership._meta.db_table

ORDERS = {"name": "name", "createdAt": "created_at"}
MAX_PAGE_SIZE = 1000


def reached_by(user: m.User, *, as_admin: bool = False) -> RawSQL:
    """Ids of every folder `user` reaches (with `as_admin`: reaches as ADMIN), for `pk__in=`.
    One recursive subquery; UNION drops repeats, so it ends even on a damaged (cyclic) tree."""
    admin_only = f" AND role = {m.DatasetUserRole.ADMIN:d}" if as_admin else ""
    sql = (
        f"WITH RECURSIVE reach(id) AS ("
        f" SELECT id FROM ("
        f"  SELECT id FROM {FOLDER} WHERE owner_id = %s"
        f"  UNION SELECT folder_id FROM {FOLDER_MEMBER} WHERE user_id = %s{admin_only}"
        f"  UNION SELECT d.backing_folder_id FROM {DATASET} d JOIN {DATASET_MEMBER} dm ON dm.dataset_id = d.id"
        f"   WHERE dm.user_id = %s AND d.backing_folder_id IS NOT NULL{admin_only.replace('role', 'dm.role')}"
        f" ) AS roots"
        f" UNION SELECT c.id FROM {FOLDER} c JOIN reach r ON c.parent_id = r.id"
        f") SELECT id FROM reach"
    )
    return RawSQL(sql, [user.pk, user.pk, user.pk])


def placeholders(ids: list[int]) -> str:
    return ", ".join(["%s"] * len(ids))


def subtree_ids(folder_ids: list[int]) -> list[int]:
    """The folders and all their descendants (one query)."""
    if not folder_ids:
        return []
    sql = (
        f"WITH RECURSIVE sub(id) AS ("
        f" SELECT id FROM {FOLDER} WHERE id IN ({placeholders(folder_ids)})"
        f" UNION SELECT c.id FROM {FOLDER} c JOIN sub s ON c.parent_id = s.id"
        f") SELECT id FROM sub"
    )
    return list(m.StorageFolder.objects.filter(pk__in=RawSQL(sql, folder_ids)).values_list("pk", flat=True))


def descendants_of(folder: m.StorageFolder) -> QuerySet[m.StorageFolder]:
    """Every folder below `folder` (not itself), as a queryset built on one recursive subquery."""
    sql = (
        f"WITH RECURSIVE sub(id) AS ("
        f" SELECT id FROM {FOLDER} WHERE parent_id = %s"
        f" UNION SELECT c.id FROM {FOLDER} c JOIN sub s ON c.parent_id = s.id"
        f") SELECT id FROM sub"
    )
    return m.StorageFolder.objects.filter(pk__in=RawSQL(sql, [folder.pk]))


def ancestor_rows(folders: list[m.StorageFolder]) -> dict[int, m.StorageFolder]:
    """Every ancestor of these folders by id, with its mirrored dataset (one query)."""
    parent_ids = sorted({f.parent_id for f in folders if f.parent_id is not None})
    if not parent_ids:
        return {}
    sql = (
        f"WITH RECURSIVE up(id, parent_id) AS ("
        f" SELECT id, parent_id FROM {FOLDER} WHERE id IN ({placeholders(parent_ids)})"
        f" UNION SELECT f.id, f.parent_id FROM {FOLDER} f JOIN up u ON f.id = u.parent_id"
        f") SELECT id FROM up"
    )
    rows = m.StorageFolder.objects.filter(pk__in=RawSQL(sql, parent_ids)).select_related("mirrored_dataset")
    return {row.pk: row for row in rows}


def chain_above(folder: m.StorageFolder, rows: dict[int, m.StorageFolder], limit: int) -> list[m.StorageFolder]:
    """The folder's ancestors nearest first, from `ancestor_rows` (no query)."""
    chain: list[m.StorageFolder] = []
    parent_id = folder.parent_id
    while parent_id is not None and parent_id in rows and len(chain) < limit:
        chain.append(rows[parent_id])
        parent_id = rows[parent_id].parent_id
    return chain


def subtree_height(folder_ids: list[int]) -> int:
    """Levels in the subtrees under these folders, the folders themselves counting 1 (one query)."""
    if not folder_ids:
        return 0
    sql = (
        f"WITH RECURSIVE sub(id, level) AS ("
        f" SELECT id, 1 FROM {FOLDER} WHERE id IN ({placeholders(folder_ids)})"
        f" UNION SELECT c.id, s.level + 1 FROM {FOLDER} c JOIN sub s ON c.parent_id = s.id WHERE s.level < 1000"
        f") SELECT MAX(level) FROM sub"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, folder_ids)
        value = cursor.fetchone()[0]
    return int(value or 0)


# ---- keyset pages -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Listing:
    """How to order and cut one page of a folder listing (protocol §1.3, §0.5)."""

    order: str = "name"
    desc: bool = False
    page_size: int = 100
    page_token: str | None = None

    def __post_init__(self) -> None:
        if self.order not in ORDERS:
            raise InvalidArgumentError(
                f"order must be one of {', '.join(ORDERS)}, not {str(self.order)[:40]!r}.", field="order"
            )
        if not isinstance(self.page_size, int) or not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise InvalidArgumentError(f"pageSize must be 1 to {MAX_PAGE_SIZE}.", field="pageSize")


def encode_token(listing: Listing, last: m.StorageFolder) -> str:
    value = last.name if listing.order == "name" else last.created_at.isoformat()
    raw = json.dumps({"o": listing.order, "d": listing.desc, "v": value, "i": last.pk}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(listing: Listing) -> tuple[object, int]:
    bad = InvalidArgumentError("pageToken is not a token this listing gave out.", field="pageToken")
    token = listing.page_token or ""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        raise bad from None
    if not isinstance(data, dict) or data.get("o") != listing.order or data.get("d") is not listing.desc:
        raise bad
    value, last_id = data.get("v"), data.get("i")
    if not isinstance(value, str) or "\x00" in value or len(value) > 1024:
        raise bad
    if not isinstance(last_id, int) or isinstance(last_id, bool) or not 0 <= last_id < 2**63:
        raise bad
    if listing.order == "createdAt":
        try:
            when = dt.datetime.fromisoformat(value)
        except ValueError:
            raise bad from None
        if when.tzinfo is None:
            raise bad
        return when, last_id
    return value, last_id


def page_of(folders: QuerySet[m.StorageFolder], listing: Listing) -> tuple[list[m.StorageFolder], str | None]:
    """One page in (order field, id) order and the token of the next (None at the end).
    One query, which the (parent, name, id) index serves for a folder's children by name."""
    field = ORDERS[listing.order]
    sign = "-" if listing.desc else ""
    folders = folders.order_by(f"{sign}{field}", f"{sign}id")
    if listing.page_token:
        value, last_id = decode_token(listing)
        cmp = "lt" if listing.desc else "gt"
        folders = folders.filter(Q(**{f"{field}__{cmp}": value}) | Q(**{field: value, f"id__{cmp}": last_id}))
    rows = list(folders[: listing.page_size + 1])
    if len(rows) <= listing.page_size:
        return rows, None
    rows = rows[: listing.page_size]
    return rows, encode_token(listing, rows[-1])
