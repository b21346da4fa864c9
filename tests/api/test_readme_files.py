"""The README's Files snippet (flows A, C, D, E of Encord's docs), run word for word with the real
encord 0.1.211 SDK against a live server and a real worker, then checked in the database."""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import pytest

from datasets_app import models as m
from tests.factories import UserFactory
from tests.media.mediagen import make_image, make_video

pytestmark = pytest.mark.django_db(transaction=True)

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_files_snippet() -> str:
    text = README.read_text()
    block = re.search(r"<!-- readme-files-snippet -->\s*```python\n(.*?)```\s*<!-- /readme-files-snippet -->", text, re.S)
    assert block, "the README lost its Files snippet markers"
    return block.group(1)


def test_the_readme_files_snippet_runs_as_written(tmp_path, sdk_client, data_worker):
    admin = UserFactory(email="admin@example.com", is_org_admin=True)  # schema.save() is theirs
    make_image(tmp_path / "a.jpg", 64, 48)
    make_image(tmp_path / "b.jpg", 64, 48, color=(10, 200, 30))
    make_video(tmp_path / "v.mp4", frames=10)
    namespace = {"user_client": sdk_client(admin)}
    printed = io.StringIO()
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(readme_files_snippet(), "README.md", "exec"), namespace)  # noqa: S102
    finally:
        os.chdir(cwd)
    lines = printed.getvalue().splitlines()
    # A: two rows backed by the uploaded items
    plain = m.Dataset.objects.get(title="Night drives")
    assert plain.backing_folder is None
    assert sorted(plain.data_rows.values_list("item__item_uuid", flat=True)) == sorted(
        [namespace["image_uuid"], namespace["group_uuid"]]
    )
    # C: the mirror's row appeared from its folder's upload
    assert lines[1] == "['b.jpg']"
    # D: the rename and the metadata are the item's, seen through the plain dataset
    image = m.StorageItem.objects.get(item_uuid=namespace["image_uuid"])
    assert image.name == "a-night.jpg" and image.client_metadata == {"weather": "sun", "speed": 12}
    assert "a-night.jpg" in lines[2]
    # E: the rows' items resolve and the first has a signed URL
    assert "http" in lines[3]
