"""Model rows -> the SDK's return types (orm.py)."""

from __future__ import annotations

from datasets_app import models as m

from . import orm


def uuid_or_none(value) -> str | None:
    """A UUID as the wire's string, None as null (a plain dataset's backing_folder_uuid)."""
    return str(value) if value is not None else None


def dataset_info(ds: m.Dataset) -> orm.DatasetInfo:
    """Reads ds.backing_folder: select_related("backing_folder") when listing."""
    return orm.DatasetInfo(
        dataset_hash=str(ds.dataset_hash),
        user_hash=str(ds.created_by.user_hash) if ds.created_by_id and ds.created_by else "",
        title=ds.title,
        description=ds.description or "",
        type=orm.StorageLocation(ds.storage_location),
        created_at=ds.created_at,
        last_edited_at=ds.last_edited_at,
        backing_folder_uuid=uuid_or_none(ds.backing_folder_uuid),
    )


def edited_at(row_edited, item_edited):
    """A row's last edit: its own (linked) or its item's (renamed, new metadata), the later."""
    return max(row_edited, item_edited) if item_edited is not None else row_edited


def row_storage_location(row: m.DataRow) -> orm.StorageLocation:
    if row.is_hosted or row.integration is None:
        return orm.StorageLocation.CORD_STORAGE
    return {
        m.IntegrationProvider.S3: orm.StorageLocation.S3_COMPATIBLE
        if row.integration.config.get("endpoint_url")
        else orm.StorageLocation.AWS,
        m.IntegrationProvider.GCS: orm.StorageLocation.GCP,
        m.IntegrationProvider.AZURE: orm.StorageLocation.AZURE,
        m.IntegrationProvider.HTTPS: orm.StorageLocation.S3_COMPATIBLE,
    }[row.integration.provider]


def data_row(
    row: m.DataRow,
    *,
    with_metadata: bool = True,
    signed_url: str | None = None,
    images_data: list[orm.ImageData] | None = None,
) -> orm.DataRow:
    return orm.DataRow(
        data_hash=str(row.data_hash),
        title=row.title,
        data_type=orm.DataType(row.data_type),
        created_at=row.created_at,
        last_edited_at=edited_at(row.last_edited_at, row.item.last_edited_at),
        width=row.width,
        height=row.height,
        file_link=(row.url or row.storage_key or None) if row.data_type != m.DataType.DICOM else None,
        file_size=row.file_size,
        file_type=row.mime_type or None,
        storage_location=row_storage_location(row),
        frames_per_second=row.fps,
        duration=row.duration,
        frame_count=row.frame_count,
        backing_item_uuid=str(row.backing_item_uuid),
        client_metadata=row.client_metadata if with_metadata else None,
        signed_url=signed_url,
        is_optimised_image_group=row.is_optimised_image_group,
        images_data=images_data,
        media_info=row.media_info or {},
    )


# Columns read by data_rows_fast(): a values_list() avoids building 100k model instances. The
# media columns are the row's item's (one join).
_ROW_COLUMNS = (
    "data_hash", "item__name", "item__item_type", "created_at", "last_edited_at", "item__last_edited_at",
    "item__width", "item__height", "item__url", "item__storage_key", "item__file_size", "item__mime_type",
    "item__fps", "item__duration", "item__frame_count", "item__item_uuid", "item__client_metadata",
    "item__is_optimised_image_group", "item__media_info", "item__integration__provider",
    "item__integration__config",
)
_PROVIDER_LOCATION = {
    m.IntegrationProvider.GCS: orm.StorageLocation.GCP,
    m.IntegrationProvider.AZURE: orm.StorageLocation.AZURE,
    m.IntegrationProvider.HTTPS: orm.StorageLocation.S3_COMPATIBLE,
}


def data_rows_fast(qs, *, with_metadata: bool = True, chunk_size: int = 2000):
    """Yields orm.DataRow for a DataRow queryset, streaming in chunks; same result as data_row()."""
    types = {t.value: t for t in orm.DataType}
    for (
        data_hash, title, data_type, created_at, last_edited_at, item_edited_at, width, height, url, storage_key, file_size,
        mime_type, fps, duration, frame_count, backing_item_uuid, client_metadata, optimised, media_info,
        provider, config,
    ) in qs.values_list(*_ROW_COLUMNS).iterator(chunk_size=chunk_size):
        if not url or provider is None:
            location = orm.StorageLocation.CORD_STORAGE
        elif provider == m.IntegrationProvider.S3:
            location = orm.StorageLocation.S3_COMPATIBLE if (config or {}).get("endpoint_url") else orm.StorageLocation.AWS
        else:
            location = _PROVIDER_LOCATION[provider]
        yield orm.DataRow(
            data_hash=str(data_hash),
            title=title,
            data_type=types[data_type],
            created_at=created_at,
            last_edited_at=edited_at(last_edited_at, item_edited_at),
            width=width,
            height=height,
            file_link=(url or storage_key or None) if data_type != m.DataType.DICOM else None,
            file_size=file_size,
            file_type=mime_type or None,
            storage_location=location,
            frames_per_second=fps,
            duration=duration,
            frame_count=frame_count,
            backing_item_uuid=str(backing_item_uuid),
            client_metadata=client_metadata if with_metadata else None,
            is_optimised_image_group=optimised,
            media_info=media_info or {},
        )
