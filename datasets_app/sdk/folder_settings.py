"""What folders have on Encord and not on this server, answered honestly (protocol §1.9, §5,
§8.3): user groups (none exist, so none has access), cloud sync (no folder is cloud-synced) and
folder settings (metadata ingestion needs cloud-synced folders). Each call still checks the folder
first, so a missing or forbidden folder gets the same answer as everywhere else."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from datasets_app import models as m

from .exceptions import InvalidArgumentError
from .folder_access import parse_uuid, require_folder
from .policy import Op, Principal
from .storage_folders import user_of
from .validation import clean_list


def list_folder_groups(principal: Principal, folder_uuid: object) -> list:
    """No user groups exist on this server, so no group has access: []."""
    user_of(principal)
    require_folder(principal, folder_uuid, Op.READ_FILES)
    return []


def clean_group_hashes(group_hashes: Iterable[object]) -> list[uuid.UUID]:
    return [parse_uuid(g, "group_hash") for g in clean_list(group_hashes, "groupHashList", max_items=1000)]


def add_folder_groups(principal: Principal, folder_uuid: object, group_hashes: Iterable[object]) -> None:
    user_of(principal)
    require_folder(principal, folder_uuid, Op.MANAGE_FILES)
    hashes = clean_group_hashes(group_hashes)
    if not hashes:
        raise InvalidArgumentError("Give at least one group.", field="groupHashList")
    raise InvalidArgumentError(f"Group {hashes[0]} does not exist (this server has no user groups).")


def remove_folder_groups(principal: Principal, folder_uuid: object, group_hashes: Iterable[object]) -> None:
    """Nothing to remove (no group can have access); a no-op once the folder is checked."""
    user_of(principal)
    require_folder(principal, folder_uuid, Op.MANAGE_FILES)
    clean_group_hashes(group_hashes)


def not_cloud_synced(folder: m.StorageFolder) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"Folder {folder.folder_uuid} is not a cloud-synced folder (this server has none)."
    )


def start_cloud_sync(principal: Principal, folder_uuid: object) -> None:
    user_of(principal)
    raise not_cloud_synced(require_folder(principal, folder_uuid, Op.MANAGE_FILES))


def get_cloud_sync_result(principal: Principal, folder_uuid: object, sync_job_uuid: object) -> None:
    user_of(principal)
    folder = require_folder(principal, folder_uuid, Op.READ_FILES)
    parse_uuid(sync_job_uuid, "sync_job_uuid")
    raise not_cloud_synced(folder)


def get_folder_config(principal: Principal, folder_uuid: object) -> dict[str, Any]:
    """The folder's settings: metadata ingestion is never on here."""
    user_of(principal)
    require_folder(principal, folder_uuid, Op.READ_FILES)
    return {"metadata_ingestion": None}


def set_folder_config(principal: Principal, folder_uuid: object, config: Any) -> None:
    user_of(principal)
    require_folder(principal, folder_uuid, Op.MANAGE_FILES)
    raise InvalidArgumentError(
        "Metadata ingestion is not supported by this server (it needs cloud-synced folders); "
        "folder settings cannot be changed."
    )
