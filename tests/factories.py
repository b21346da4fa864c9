from __future__ import annotations

import functools

import factory

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


class DatasetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Dataset

    title = factory.Sequence(lambda n: f"Dataset {n}")
    description = "A dataset"


class DataRowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.DataRow

    dataset = factory.SubFactory(DatasetFactory)
    title = factory.Sequence(lambda n: f"item-{n}.mp4")
    data_type = m.DataType.VIDEO
    storage_key = factory.LazyAttribute(lambda o: f"datasets/{o.dataset.dataset_hash}/x/{o.title}")
    mime_type = "video/mp4"
    width = 640
    height = 480
    fps = 25.0
    duration = 4.0
    file_size = 1234
