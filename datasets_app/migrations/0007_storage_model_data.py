"""Files (issue 13), step 2 of 3: every dataset becomes a mirror dataset of a new top-level folder
whose uuid is the backing_folder_uuid it already reported, and every row's media becomes a
storage item in that folder whose uuid is the row's backing_item_uuid; data_hash, row ids, member
ids and image hashes do not change. Bulk SQL (INSERT ... SELECT and one UPDATE per table), so it
takes seconds for 100,000 rows (bench/bench_migration.py)."""

from django.db import migrations

ITEM_COLUMNS = [
    # (storage item column, data row column)
    ("file_size", "file_size"), ("mime_type", "mime_type"), ("width", "width"), ("height", "height"),
    ("fps", "fps"), ("duration", "duration"), ("frame_count", "frame_count"),
    ("client_metadata", "client_metadata"), ("created_at", "created_at"),
    ("last_edited_at", "last_edited_at"), ("storage_key", "storage_key"), ("url", "url"),
    ("integration_id", "integration_id"), ("sha256", "sha256"), ("thumbnail_key", "thumbnail_key"),
    ("is_optimised_image_group", "is_optimised_image_group"),
    ("sequence_video_status", "sequence_video_status"), ("sequence_video_key", "sequence_video_key"),
    ("media_info", "media_info"), ("original_storage_key", "original_storage_key"),
    ("original_url", "original_url"), ("created_by_job_id", "created_by_job_id"),
]

FOLDERS = """
INSERT INTO datasets_app_storagefolder
    (folder_uuid, parent_id, name, description, client_metadata, owner_id, created_at, last_edited_at)
SELECT backing_folder_uuid, NULL, title, '', NULL, created_by_id, created_at, last_edited_at
FROM datasets_app_dataset ORDER BY id
"""

DATASET_FOLDERS = """
UPDATE datasets_app_dataset SET backing_folder_id = (
    SELECT f.id FROM datasets_app_storagefolder f WHERE f.folder_uuid = datasets_app_dataset.backing_folder_uuid
)
"""

ITEMS = f"""
INSERT INTO datasets_app_storageitem (item_uuid, folder_id, name, item_type, owner_id,
    {", ".join(item for item, _ in ITEM_COLUMNS)})
SELECT r.backing_item_uuid, d.backing_folder_id, r.title, r.data_type, d.created_by_id,
    {", ".join("r." + row for _, row in ITEM_COLUMNS)}
FROM datasets_app_datarow r JOIN datasets_app_dataset d ON d.id = r.dataset_id
ORDER BY r.id
"""

ROW_ITEMS = """
UPDATE datasets_app_datarow SET item_id = (
    SELECT i.id FROM datasets_app_storageitem i WHERE i.item_uuid = datasets_app_datarow.backing_item_uuid
)
"""

MEMBER_ITEMS = """
UPDATE datasets_app_datarowmember SET item_id = (
    SELECT r.item_id FROM datasets_app_datarow r WHERE r.id = datasets_app_datarowmember.data_row_id
)
"""

def forward(apps, schema_editor):
    for statement in (FOLDERS, DATASET_FOLDERS, ITEMS, ROW_ITEMS, MEMBER_ITEMS):
        schema_editor.execute(statement)


def backward(apps, schema_editor):
    """Going back is allowed only where there is nothing to lose (tests that step back to an
    earlier state on an empty database): rows no longer hold their media, items may be unlinked."""
    if apps.get_model("datasets_app", "StorageItem").objects.exists():
        raise RuntimeError("0007_storage_model_data cannot be reversed once storage items exist.")


class Migration(migrations.Migration):
    dependencies = [("datasets_app", "0006_storage_model")]
    operations = [migrations.RunPython(forward, backward, elidable=False)]
