"""Storage re-encoding (folder.re_encode_videos, protocol §7): a re-encode task may name storage
items instead of a dataset's rows.

ReEncodeTask gets a process_uuid (the SDK's process hash), unique: added nullable, filled with a
distinct uuid4 per existing task, then made unique and required, so every existing task keeps its
integer id and gets a real uuid of its own. Its dataset becomes optional (None for a storage task)
and it keeps the request's title. ReEncodeVideo gets an item (and its uuid, kept if the item goes);
its data_hash becomes optional, and every part names a row or an item (check constraint).

Going back to 0011 deletes the storage tasks first: that schema has no place for them."""

import uuid

import django.db.models.deletion
from django.db import migrations, models


def checked_now(schema_editor):
    """On PostgreSQL, foreign keys are checked at each statement's end while rows change here, so
    no deferred check is pending when the next operation alters the same tables."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def give_each_task_a_process_uuid(apps, schema_editor):
    checked_now(schema_editor)
    Task = apps.get_model("datasets_app", "ReEncodeTask")
    pending = list(Task.objects.filter(process_uuid__isnull=True).only("pk"))
    for task in pending:
        task.process_uuid = uuid.uuid4()
    Task.objects.bulk_update(pending, ["process_uuid"], batch_size=1000)


def drop_storage_tasks(apps, schema_editor):
    """Backwards only: tasks without a dataset (and their parts) cannot exist at 0011."""
    checked_now(schema_editor)
    apps.get_model("datasets_app", "ReEncodeTask").objects.filter(dataset__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("datasets_app", "0011_dataset_stats")]

    operations = [
        migrations.AddField(
            model_name="reencodetask",
            name="process_uuid",
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.RunPython(give_each_task_a_process_uuid, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="reencodetask",
            name="process_uuid",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.AddField(
            model_name="reencodetask",
            name="title",
            field=models.CharField(blank=True, default="", max_length=1024),
        ),
        migrations.AddField(
            model_name="reencodevideo",
            name="item",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="datasets_app.storageitem",
            ),
        ),
        migrations.AddField(
            model_name="reencodevideo",
            name="item_uuid",
            field=models.UUIDField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="reencodetask",
            name="dataset",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="reencode_tasks",
                to="datasets_app.dataset",
            ),
        ),
        migrations.AlterField(
            model_name="reencodevideo",
            name="data_hash",
            field=models.UUIDField(blank=True, null=True),
        ),
        migrations.AddConstraint(
            model_name="reencodevideo",
            constraint=models.UniqueConstraint(fields=("task", "item_uuid"), name="unique_reencode_item"),
        ),
        migrations.AddConstraint(
            model_name="reencodevideo",
            constraint=models.CheckConstraint(
                condition=models.Q(("data_hash__isnull", False), ("item_uuid__isnull", False), _connector="OR"),
                name="reencode_video_names_row_or_item",
            ),
        ),
        # Last, so that going back runs it first, before the columns become required again.
        migrations.RunPython(migrations.RunPython.noop, drop_storage_tasks),
    ]
