from __future__ import annotations

import datetime as dt
import functools
import io
from pathlib import Path

import factory
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from datasets_app import models as m


@functools.lru_cache(maxsize=1)
def _password_hash() -> str:
    from django.contrib.auth.hashers import make_password

    return make_password("correct horse battery")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    username = factory.SelfAttribute("email")
    # Hashed once and stored with the row (a post-generation set_password is never saved here).
    password = factory.LazyFunction(lambda: _password_hash())


class StorageFolderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.StorageFolder

    name = factory.Sequence(lambda n: f"folder-{n}")


class DatasetFactory(factory.django.DjangoModelFactory):
    """A mirror dataset (as the dashboard and create_dataset's default make): its backing folder
    holds its items. `backing_folder=None` makes a plain dataset."""

    class Meta:
        model = m.Dataset

    title = factory.Sequence(lambda n: f"Dataset {n}")
    description = "A dataset"
    backing_folder = factory.SubFactory(
        StorageFolderFactory, name=factory.LazyAttribute(lambda o: o.factory_parent.title[:1024])
    )


# A row's media fields, as rows read them, and the item field each is.
ITEM_FIELDS = {**m.data.ITEM_FIELDS_READ_BY_ROWS}
for _read_only in ("members", "is_hosted", "integration_id"):
    ITEM_FIELDS.pop(_read_only)


class StorageItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.StorageItem

    folder = factory.SubFactory(StorageFolderFactory)
    name = factory.Sequence(lambda n: f"item-{n}.mp4")
    item_type = m.DataType.VIDEO
    storage_key = factory.LazyAttribute(lambda o: f"items/{o.folder.folder_uuid}/{o.name[:200]}")
    mime_type = "video/mp4"
    width = 640
    height = 480
    fps = 25.0
    duration = 4.0
    file_size = 1234


class DataRowFactory(factory.django.DjangoModelFactory):
    """A row and the item it links. Media fields (title, data_type, storage_key, ... as rows read
    them) go to the item, made in the dataset's backing folder (or a new folder for a plain
    dataset); pass `item=` to link an existing item instead."""

    class Meta:
        model = m.DataRow

    dataset = factory.SubFactory(DatasetFactory)
    title = factory.Sequence(lambda n: f"item-{n}.mp4")
    data_type = m.DataType.VIDEO
    # (a key holds at most 512 characters; a title up to 1,024)
    storage_key = factory.LazyAttribute(lambda o: f"datasets/{o.dataset.dataset_hash}/x/{o.title[:200]}")
    mime_type = "video/mp4"
    width = 640
    height = 480
    fps = 25.0
    duration = 4.0
    file_size = 1234

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        item_fields = {ITEM_FIELDS[k]: kwargs.pop(k) for k in list(kwargs) if k in ITEM_FIELDS}
        item = kwargs.pop("item", None)
        if item is None:
            dataset = kwargs["dataset"]
            folder = dataset.backing_folder or StorageFolderFactory(name=f"{dataset.title[:200]} files")
            item = StorageItemFactory(folder=folder, owner=dataset.created_by, **item_fields)
        return super()._create(model_class, *args, item=item, **kwargs)


class DatasetMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.DatasetMembership

    dataset = factory.SubFactory(DatasetFactory)
    user = factory.SubFactory(UserFactory)
    role = m.DatasetUserRole.USER


class DataRowMemberFactory(factory.django.DjangoModelFactory):
    """One image of an image group (or a DICOM series); data_sequence is its place in the group."""

    class Meta:
        model = m.DataRowMember

    data_row = factory.SubFactory(DataRowFactory, data_type=m.DataType.IMG_GROUP, storage_key="")
    data_sequence = factory.Sequence(lambda n: n)
    title = factory.LazyAttribute(lambda o: f"{o.data_sequence}.png")
    storage_key = factory.LazyAttribute(lambda o: f"datasets/x/{o.title}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # A member belongs to the item; `data_row=` (a row linking the group) is kept for brevity.
        row = kwargs.pop("data_row", None)
        if row is not None:
            kwargs.setdefault("item", row.item)
        return super()._create(model_class, *args, **kwargs)


class CloudIntegrationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.CloudIntegration

    title = factory.Sequence(lambda n: f"integration-{n}")
    provider = m.IntegrationProvider.S3
    owner = factory.SubFactory(UserFactory)


class DataJobFactory(factory.django.DjangoModelFactory):
    """An upload job as the SDK records it before any unit ran (status left to the model's default)."""

    class Meta:
        model = m.DataJob

    dataset = factory.SubFactory(DatasetFactory)
    kind = m.DataJob.KIND_UPLOAD


class DataJobUnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.DataJobUnit

    job = factory.SubFactory(DataJobFactory)
    index = factory.Sequence(lambda n: n)
    spec = factory.LazyFunction(dict)


class ReEncodeTaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.ReEncodeTask

    dataset = factory.SubFactory(DatasetFactory)


class ReEncodeVideoFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.ReEncodeVideo

    task = factory.SubFactory(ReEncodeTaskFactory)
    data_row = factory.SubFactory(DataRowFactory, dataset=factory.SelfAttribute("..task.dataset"))
    data_hash = factory.LazyAttribute(lambda o: o.data_row.data_hash)


class UploadSlotFactory(factory.django.DjangoModelFactory):
    """A presigned upload's slot (the file itself is the test's to write)."""

    class Meta:
        model = m.UploadSlot

    object_key = factory.Sequence(lambda n: f"uploads/slot-{n}.jpg")
    item_type = "image"
    expires_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(hours=1))


def hosted_video_row(dataset, path: Path, **fields) -> m.DataRow:
    """A row (titled after the file unless `fields` say otherwise) whose file is stored under its
    storage_key, as a metadata import leaves it: no probe has run."""
    fields.setdefault("title", path.name)
    row = DataRowFactory(dataset=dataset, **fields)
    with open(path, "rb") as fh:
        assert default_storage.save(row.storage_key, File(fh, name=path.name)) == row.storage_key
    return row


def image_group_awaiting_video(
    dataset, sizes: list[tuple[int, int]], *, colour_of, missing: int | None = None
) -> m.DataRow:
    """An optimised image group whose sequence video is PENDING: one stored PNG per size, filled
    with colour_of(index); the image at index `missing` has its member row but no file."""
    from PIL import Image

    width, height = sizes[0]
    row = DataRowFactory(
        dataset=dataset, data_type=m.DataType.IMG_GROUP, storage_key="", width=width, height=height,
        sequence_video_status="PENDING", is_optimised_image_group=True,
    )
    for i, (w, h) in enumerate(sizes):
        key = f"datasets/{dataset.dataset_hash}/g/{i}.png"
        if i != missing:
            buf = io.BytesIO()
            Image.new("RGB", (w, h), colour_of(i)).save(buf, "PNG")
            default_storage.save(key, ContentFile(buf.getvalue()))
        DataRowMemberFactory(data_row=row, data_sequence=i, title=f"{i}.png", storage_key=key, width=w, height=h)
    return row
