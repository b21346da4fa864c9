"""Upload jobs into a Files folder (issue 13): DataJob.folder and file_name, dataset optional;
UploadSlot.folder. Only adds columns and relaxes a NOT NULL: every job, unit and slot keeps its id."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('datasets_app', '0009_metadata'),
    ]

    operations = [
        migrations.AddField(
            model_name='datajob',
            name='file_name',
            field=models.CharField(blank=True, default='', max_length=1024),
        ),
        migrations.AddField(
            model_name='datajob',
            name='folder',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='upload_jobs', to='datasets_app.storagefolder'),
        ),
        migrations.AddField(
            model_name='uploadslot',
            name='folder',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='datasets_app.storagefolder'),
        ),
        migrations.AlterField(
            model_name='datajob',
            name='dataset',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='jobs', to='datasets_app.dataset'),
        ),
    ]
