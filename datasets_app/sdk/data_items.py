"""A data job's `dataItems` (Encord's wire payload, protocol §6.7 step 3 / A.6.3 step 3) read into
typed unit specs (sdk/units.py), strictly: InvalidArgumentError names the first bad entry."""

from __future__ import annotations

import os
from typing import Any

from .exceptions import InvalidArgumentError
from .units import KIND_DICOM, KIND_IMAGE, KIND_IMAGE_GROUP, KIND_VIDEO, UnitFile, UnitSpec
from .upload_slots import ITEM_DICOM, ITEM_IMAGE, ITEM_VIDEO
from .validation import clean_title

MAX_UNITS_PER_JOB = 100_000
MAX_FILES_PER_GROUP = 10_000
# The upload item type a unit kind's files must have been issued for.
ITEM_TYPE_OF_KIND = {
    KIND_VIDEO: ITEM_VIDEO,
    KIND_IMAGE: ITEM_IMAGE,
    KIND_IMAGE_GROUP: ITEM_IMAGE,
    KIND_DICOM: ITEM_DICOM,
}
ACTION = {
    KIND_VIDEO: "Uploading video",
    KIND_IMAGE: "Uploading image",
    KIND_IMAGE_GROUP: "Creating image group",
    KIND_DICOM: "Creating DICOM series",
}
UNSUPPORTED = ("imageGroupsFromItems", "audio", "timeSeries", "nifti", "text", "pdf", "scenes")


def _str_field(entry: dict, name: str, where: str) -> str:
    value = entry.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidArgumentError(f"{where}.{name} must be a non-empty string.", field=f"{where}.{name}")
    return value


def _metadata(entry: dict, where: str) -> dict:
    value = entry.get("clientMetadata", {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgumentError(
            f"{where}.clientMetadata must be a JSON object.", field=f"{where}.clientMetadata"
        )
    return value


def _files(entry: dict, list_name: str, where: str) -> list[UnitFile]:
    files = entry.get(list_name)
    if not isinstance(files, list) or not files:
        raise InvalidArgumentError(
            f"{where}.{list_name} must be a non-empty list.", field=f"{where}.{list_name}"
        )
    if len(files) > MAX_FILES_PER_GROUP:
        raise InvalidArgumentError(f"{where}.{list_name} has more than {MAX_FILES_PER_GROUP} files.")
    out = []
    for j, f in enumerate(files):
        if not isinstance(f, dict):
            raise InvalidArgumentError(f"{where}.{list_name}[{j}] must be an object.")
        key = _str_field(f, "url", f"{where}.{list_name}[{j}]")
        title = f.get("title") if isinstance(f.get("title"), str) and f.get("title") else os.path.basename(key)
        out.append(UnitFile(source=key, title=clean_title(title)))
    return out


def _entries(data_items: dict, list_name: str) -> list[tuple[str, dict]]:
    out = []
    for i, entry in enumerate(data_items.get(list_name) or []):
        where = f"{list_name}[{i}]"
        if not isinstance(entry, dict):
            raise InvalidArgumentError(f"{where} must be an object.")
        out.append((where, entry))
    return out


def parse_data_items(data_items: Any) -> tuple[list[UnitSpec], bool, bool]:
    """Unit specs from a data-job payload's `dataItems`, plus (skipDuplicateUrls, upsertMetadata)."""
    if not isinstance(data_items, dict):
        raise InvalidArgumentError("payload.dataItems must be a JSON object.", field="dataItems")
    specs: list[UnitSpec] = []
    # videos and single images share one entry shape: {objectUrl, title?, clientMetadata?}
    for list_name, kind in (("videos", KIND_VIDEO), ("images", KIND_IMAGE)):
        for where, entry in _entries(data_items, list_name):
            key = _str_field(entry, "objectUrl", where)
            title = clean_title(entry.get("title") or os.path.basename(key))
            specs.append(single_spec(kind, key, title, _metadata(entry, where)))
    for list_name, kind, files_name in (
        ("imageGroups", KIND_IMAGE_GROUP, "images"),
        ("dicomSeries", KIND_DICOM, "dicomFiles"),
    ):
        for where, entry in _entries(data_items, list_name):
            title = entry.get("title")
            specs.append(
                UnitSpec(
                    kind=kind,
                    title=clean_title(title) if title else "",
                    create_video=kind == KIND_IMAGE_GROUP and bool(entry.get("createVideo", False)),
                    files=_files(entry, files_name, where),
                    client_metadata=_metadata(entry, where),
                )
            )
    for name in UNSUPPORTED:
        if data_items.get(name):
            raise InvalidArgumentError(f"dataItems.{name} is not supported by this server.", field=name)
    if not specs:
        raise InvalidArgumentError(
            "dataItems names no video, image, image group or DICOM series.", field="dataItems"
        )
    if len(specs) > MAX_UNITS_PER_JOB:
        raise InvalidArgumentError(f"A data job takes at most {MAX_UNITS_PER_JOB} items.", field="dataItems")
    return (
        specs,
        bool(data_items.get("skipDuplicateUrls", False)),
        bool(data_items.get("upsertMetadata", False)),
    )


def single_spec(kind: str, key: str, title: str, client_metadata: dict | None = None) -> UnitSpec:
    """A video's or an image's unit: one hosted file, titled."""
    title = clean_title(title)
    return UnitSpec(kind=kind, files=[UnitFile(source=key, title=title)], title=title, client_metadata=client_metadata or {})


def group_spec(kind: str, files: list[tuple[str, str]], title: str | None) -> UnitSpec:
    """An image group's or a DICOM series' unit from [(object key, file title)], in order."""
    return UnitSpec(
        kind=kind,
        files=[UnitFile(source=key, title=clean_title(name)) for key, name in files],
        title=clean_title(title) if title else "",
    )
