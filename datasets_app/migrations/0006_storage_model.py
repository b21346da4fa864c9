"""Files (issue 13), step 1 of 3: folders, items and folder members; rows and members get a
nullable link to their item. 0007 fills it; 0008 drops what moved to the item."""

import django.db.models.deletion
import uuid
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('datasets_app', '0005_token_revocation_key_reveals'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='FolderMembership',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('role', models.SmallIntegerField(default=1)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'ordering': ['created_at', 'id'],
            },
        ),
        migrations.CreateModel(
            name='StorageFolder',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('folder_uuid', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('name', models.CharField(max_length=1024)),
                ('description', models.TextField(blank=True, default='')),
                ('client_metadata', models.JSONField(blank=True, null=True)),
                ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                ('last_edited_at', models.DateTimeField(auto_now=True)),
            ],
            options={
                'ordering': ['name', 'id'],
            },
        ),
        migrations.CreateModel(
            name='StorageItem',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('item_uuid', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('name', models.CharField(max_length=1024)),
                ('item_type', models.CharField(choices=[('VIDEO', 'Video'), ('IMG_GROUP', 'Image group'), ('IMAGE', 'Image'), ('DICOM', 'DICOM series')], max_length=16)),
                ('file_size', models.BigIntegerField(blank=True, null=True)),
                ('mime_type', models.CharField(blank=True, default='', max_length=100)),
                ('width', models.IntegerField(blank=True, null=True)),
                ('height', models.IntegerField(blank=True, null=True)),
                ('fps', models.FloatField(blank=True, null=True)),
                ('duration', models.FloatField(blank=True, null=True)),
                ('frame_count', models.IntegerField(blank=True, null=True)),
                ('client_metadata', models.JSONField(blank=True, default=dict)),
                ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                ('last_edited_at', models.DateTimeField(auto_now=True)),
                ('storage_key', models.CharField(blank=True, default='', max_length=512)),
                ('url', models.CharField(blank=True, default='', max_length=2048)),
                ('sha256', models.CharField(blank=True, db_index=True, default='', max_length=64)),
                ('thumbnail_key', models.CharField(blank=True, default='', max_length=512)),
                ('is_optimised_image_group', models.BooleanField(blank=True, null=True)),
                ('sequence_video_status', models.CharField(blank=True, default='', max_length=16)),
                ('sequence_video_key', models.CharField(blank=True, default='', max_length=512)),
                ('media_info', models.JSONField(blank=True, default=dict)),
                ('original_storage_key', models.CharField(blank=True, default='', max_length=512)),
                ('original_url', models.CharField(blank=True, default='', max_length=2048)),
            ],
            options={
                'ordering': ['created_at', 'id'],
            },
        ),
        migrations.AddField(
            model_name='foldermembership',
            name='user',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='folder_memberships', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='storagefolder',
            name='owner',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='storagefolder',
            name='parent',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='subfolders', to='datasets_app.storagefolder'),
        ),
        migrations.AddField(
            model_name='foldermembership',
            name='folder',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to='datasets_app.storagefolder'),
        ),
        migrations.AddField(
            model_name='dataset',
            name='backing_folder',
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='mirrored_dataset', to='datasets_app.storagefolder'),
        ),
        migrations.AddField(
            model_name='storageitem',
            name='created_by_job',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='datasets_app.datajobunit'),
        ),
        migrations.AddField(
            model_name='storageitem',
            name='folder',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='items', to='datasets_app.storagefolder'),
        ),
        migrations.AddField(
            model_name='storageitem',
            name='integration',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='datasets_app.cloudintegration'),
        ),
        migrations.AddField(
            model_name='storageitem',
            name='owner',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='datarow',
            name='item',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='rows', to='datasets_app.storageitem'),
        ),
        migrations.AddField(
            model_name='datarowmember',
            name='item',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='members', to='datasets_app.storageitem'),
        ),
        migrations.AddIndex(
            model_name='storagefolder',
            index=models.Index(fields=['parent', 'name', 'id'], name='datasets_ap_parent__db68f6_idx'),
        ),
        migrations.AddIndex(
            model_name='foldermembership',
            index=models.Index(fields=['user', 'folder'], name='datasets_ap_user_id_e01011_idx'),
        ),
        migrations.AddConstraint(
            model_name='foldermembership',
            constraint=models.UniqueConstraint(fields=('folder', 'user'), name='unique_folder_member'),
        ),
        migrations.AddIndex(
            model_name='storageitem',
            index=models.Index(fields=['folder', 'name', 'id'], name='datasets_ap_folder__2483f9_idx'),
        ),
        migrations.AddIndex(
            model_name='storageitem',
            index=models.Index(fields=['folder', 'created_at', 'id'], name='datasets_ap_folder__cc4f98_idx'),
        ),
        migrations.AddIndex(
            model_name='storageitem',
            index=models.Index(fields=['folder', 'item_type'], name='datasets_ap_folder__8c2cda_idx'),
        ),
        migrations.AddIndex(
            model_name='storageitem',
            index=models.Index(fields=['folder', 'url'], name='datasets_ap_folder__9a655f_idx'),
        ),
        migrations.AddIndex(
            model_name='storageitem',
            index=models.Index(condition=models.Q(('sequence_video_status', 'PENDING')), fields=['last_edited_at'], name='item_seqvideo_pending'),
        ),
    ]
