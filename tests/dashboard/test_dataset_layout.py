"""The dataset page for a new admin (issue 14): long titles keep their full text in a title
attribute (the CSS wraps or truncates them), "Re-encode videos..." only where there are videos,
and the inline rename cancels on Escape."""

from __future__ import annotations

from django.urls import reverse

from datasets_app import models as m
from tests.factories import DataRowFactory, DatasetMembershipFactory

from .conftest import HX

LONG = "x" * 1024


def test_long_titles_are_clamped_with_the_full_title_in_a_title_attribute(as_user, dataset, ds_admin):
    m.Dataset.objects.filter(pk=dataset.pk).update(title=LONG)
    DataRowFactory(dataset=dataset, title="y" * 1024)
    body = as_user(ds_admin).get(reverse("dashboard:dataset-detail", args=[dataset.dataset_hash])).content.decode()
    assert f'<h1 class="clamp" title="{LONG}">' in body
    assert f'class="crumb-title" title="{LONG}"' in body
    assert f'class="row-title" title="{"y" * 1024}"' in body
    listed = as_user(ds_admin).get(reverse("dashboard:dataset-list")).content.decode()
    assert f'class="row-title" title="{LONG}"' in listed


def test_members_page_long_email_keeps_the_full_address_in_a_title(as_user, dataset, ds_admin):
    long_email = "a" * 130 + "@example.com"  # 142 characters: a username (the e-mail) holds 150
    DatasetMembershipFactory(dataset=dataset, user__email=long_email, role=m.DatasetUserRole.USER)
    body = as_user(ds_admin).get(reverse("dashboard:members", args=[dataset.dataset_hash])).content.decode()
    assert f'<td class="col-email" title="{long_email}">' in body and "Remove…" in body


def test_reencode_is_offered_only_when_the_dataset_has_videos(as_user, dataset, ds_user):
    DataRowFactory(dataset=dataset, data_type=m.DataType.IMAGE, title="pic.png", mime_type="image/png")
    c = as_user(ds_user)
    url = reverse("dashboard:dataset-detail", args=[dataset.dataset_hash])
    assert "Re-encode videos" not in c.get(url).content.decode()
    assert "Re-encode videos" not in c.get(url, **HX).content.decode()
    DataRowFactory(dataset=dataset, title="clip.mp4")
    assert "Re-encode videos" in c.get(url).content.decode()
    # a filter that hides the videos does not hide the action: the dataset still has videos
    assert "Re-encode videos" in c.get(url, {"data_type": "IMAGE"}, **HX).content.decode()


def test_inline_rename_cancels_on_escape(as_user, dataset, ds_user):
    row = DataRowFactory(dataset=dataset, title="old.mp4")
    c = as_user(ds_user)
    form = c.get(reverse("dashboard:data-row-rename", args=[dataset.dataset_hash, row.data_hash]), **HX)
    body = form.content.decode()
    # the Cancel link fetches the unchanged row on a click or on Escape anywhere in the form
    assert "hx-trigger=\"click, keydown[key=='Escape'] from:closest form\"" in body
    back = c.get(reverse("dashboard:data-row", args=[dataset.dataset_hash, row.data_hash]), **HX).content.decode()
    assert "old.mp4" in back and "inline-edit" not in back
