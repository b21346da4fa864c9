"""Files (issue 13), step 3 of 3: the media fields now live on the item (0007 copied them);
drop them from rows, drop the row link of members, and require every row's item."""

import django.db.models.deletion
import uuid
from django.conf import settings
from django.db import migrations, models


# Contains-searches on item and folder names (as 0003 made for row titles, which move here).
TRIGRAM_INDEXES = [
    ("datasets_app_storageitem_name_trgm", "datasets_app_storageitem", "name"),
    ("datasets_app_storagefolder_name_trgm", "datasets_app_storagefolder", "name"),
]




def create_trigram_indexes(apps, schema_editor):
    # Here, not in 0007: PostgreSQL refuses CREATE INDEX on a table with rows inserted earlier in
    # the same transaction ("pending trigger events").
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in TRIGRAM_INDEXES:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column} gin_trgm_ops)")


def drop_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _, _ in TRIGRAM_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


def refuse_going_back_with_items(apps, schema_editor):
    # Runs first when stepping back (it is this migration's last operation): re-adding the rows'
    # media columns would leave them empty. 0007's reverse says the same for the same reason.
    if apps.get_model("datasets_app", "StorageItem").objects.exists():
        raise RuntimeError("0007_storage_model_data cannot be reversed once storage items exist.")


class Migration(migrations.Migration):

    dependencies = [
        ('datasets_app', '0007_storage_model_data'),
    ]

    operations = [
        migrations.RunPython(create_trigram_indexes, drop_trigram_indexes),
        migrations.AlterModelOptions(
            name='datarowmember',
            options={'ordering': ['item', 'data_sequence']},
        ),
        migrations.RemoveConstraint(
            model_name='datarowmember',
            name='unique_member_sequence',
        ),
        migrations.RemoveIndex(
            model_name='datarow',
            name='datasets_ap_dataset_35b965_idx',
        ),
        migrations.RemoveIndex(
            model_name='datarow',
            name='datasets_ap_dataset_6b7084_idx',
        ),
        migrations.RemoveIndex(
            model_name='datarow',
            name='datasets_ap_dataset_c72476_idx',
        ),
        migrations.RemoveIndex(
            model_name='datarow',
            name='datarow_seqvideo_pending',
        ),
        migrations.RemoveField(
            model_name='datarow',
            name='backing_item_uuid',
        ),
        migrations.RemoveField(
            model_name='datarow',
            name='client_metadata',
        ),
        migrations.RemoveField(
            model_name='datarow',
            name='data_type',
        ),
        migrations.RemoveField(
            model_name='datarow',
            name='duration',
        ),
        migrations.RemoveField(
            model_name='datarow',
            name='file_size',
        ),
        migrations.RemoveField(
            model_name='datarow',
            name='fps',
        ),
        migrations.RemoveField(
            model_name='datarow',
            name='frame_count',
        ),
        migrations.RemoveField(
            model_name='datarow',
            name='height',
        ),
        migrations.RemoveField(
            model_name='datarow',
            name='integration',
        ),
        migrations.RemoveField(
            model_name='datarow',
            name='is_optimised_image_group',
        ),
        migrations.RemoveField(
            model_name='datarow',
            name='media_info',
        ),
        migrations.RemoveField(
            model_name='datarow',
            name='mime_type',
        ),
        migrations.RemoveField(
            model_name='datarow',
            name='original_storage_key',
        ),
        migrations.RemoveField(
            model_name='datarow',
            name='original_url',
        ),
        migrations.RemoveField(
            model_name='datarow',
            name='sequence_video_key',
        ),
        migrations.RemoveField(
            model_name='datarow',
            name='sequence_video_status',
        ),
        migrations.RemoveField(
            model_name='datarow',
            name='sha256',
        ),
        migrations.RemoveField(
            model_name='datarow',
            name='storage_key',
        ),
        migrations.RemoveField(
            model_name='datarow',
            name='thumbnail_key',
        ),
        migrations.RemoveField(
            model_name='datarow',
            name='title',
        ),
        migrations.RemoveField(
            model_name='datarow',
            name='url',
        ),
        migrations.RemoveField(
            model_name='datarow',
            name='width',
        ),
        migrations.RemoveField(
            model_name='datarowmember',
            name='data_row',
        ),
        migrations.RemoveField(
            model_name='dataset',
            name='backing_folder_uuid',
        ),
        migrations.AddIndex(
            model_name='datarow',
            index=models.Index(fields=['dataset', 'item'], name='datasets_ap_dataset_e92720_idx'),
        ),
        migrations.AddConstraint(
            model_name='datarowmember',
            constraint=models.UniqueConstraint(fields=('item', 'data_sequence'), name='unique_item_member_sequence'),
        ),
        migrations.AlterField(
            model_name='datarow',
            name='item',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='rows', to='datasets_app.storageitem'),
        ),
        migrations.AlterField(
            model_name='datarowmember',
            name='item',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='members', to='datasets_app.storageitem'),
        ),
            migrations.RunPython(migrations.RunPython.noop, refuse_going_back_with_items),
    ]
