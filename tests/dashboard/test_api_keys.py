"""The API keys page: ADMINs only, secrets masked in the list, shown at creation, revoke confirmed."""

from __future__ import annotations

import datetime as dt
import html
import os
import re
import subprocess

import pytest
from django.test import Client
from django.urls import reverse

from datasets_app import models as m
from datasets_app.sdk import Dataset, UserClient
from datasets_app.sdk.exceptions import AuthenticationError
from tests.api.test_sdk_0145 import python_0145  # noqa: F401 (the encord==0.1.145 interpreter)
from tests.factories import DataRowFactory

pytestmark = pytest.mark.django_db


def keys_url(dataset):
    return reverse("dashboard:api-keys", args=[dataset.dataset_hash])


@pytest.mark.parametrize(
    "persona,status", [("org_admin", 200), ("ds_admin", 200), ("ds_user", 404), ("stranger", 404)]
)
def test_keys_page_role_table(request, as_user, dataset, persona, status):
    c = as_user(request.getfixturevalue(persona))
    assert c.get(keys_url(dataset)).status_code == status
    created = c.post(keys_url(dataset), {"title": "k", "scopes": ["dataset.read"]})
    assert created.status_code == status
    assert m.DatasetAPIKey.objects.filter(dataset=dataset).exists() == (status == 200)


def test_create_shows_secret_once_then_list_masks_it(as_user, dataset, ds_admin):
    c = as_user(ds_admin)
    response = c.post(keys_url(dataset), {"title": "pipeline", "scopes": ["dataset.read", "dataset.write"]})
    assert response.status_code == 200
    key = m.DatasetAPIKey.objects.get(dataset=dataset)
    secret = UserClient.for_user(ds_admin).get_dataset_api_keys(str(dataset.dataset_hash))[0].api_key
    body = response.content.decode()
    assert secret in body and "data-copy" in body and "can fetch it again" in body
    assert response["Cache-Control"] and "no-store" in response["Cache-Control"]
    listing = c.get(keys_url(dataset)).content.decode()
    assert secret not in listing and "••••••••" + secret[-4:] in listing
    assert "pipeline" in listing and "dataset.write" in listing
    # the secret works with the SDK
    assert Dataset.from_api_key(str(dataset.dataset_hash), secret).title == dataset.title
    assert key.can_read and key.can_write


def test_create_with_expiry_sets_end_of_day(as_user, dataset, ds_admin):
    day = dt.date.today() + dt.timedelta(days=3)
    as_user(ds_admin).post(
        keys_url(dataset), {"title": "k", "scopes": ["dataset.read"], "expires_on": day.isoformat()}
    )
    key = m.DatasetAPIKey.objects.get(dataset=dataset)
    assert key.expires_at == dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)


def test_expiry_shows_the_chosen_day_everywhere(as_user, dataset, ds_admin):
    """The key stops at the end of the chosen day (stored as the next midnight UTC): 2027-06-30 is
    shown as 2027-06-30 on the created page and in the list, never as 2027-07-01."""
    c = as_user(ds_admin)
    created = c.post(keys_url(dataset), {"title": "k", "scopes": ["dataset.read"], "expires_on": "2027-06-30"})
    listing = c.get(keys_url(dataset)).content.decode()
    for body in (created.content.decode(), listing):
        assert "2027-06-30" in body and "2027-07-01" not in body
    assert re.search(r"until the end of <time[^>]*>2027-06-30</time> \(UTC\)", created.content.decode())


@pytest.mark.parametrize(
    "data,field",
    [
        ({"title": "", "scopes": ["dataset.read"]}, "id_title_error"),
        ({"title": "k"}, "Choose at least one scope"),
        ({"title": "k", "scopes": ["dataset.admin"]}, "not one of the available choices"),
        ({"title": "k", "scopes": ["dataset.read"], "expires_on": "2001-01-01"}, "id_expires_on_error"),
        ({"title": "k", "scopes": ["dataset.read"], "expires_on": "tomorrow"}, "id_expires_on_error"),
        ({"title": "x" * 300, "scopes": ["dataset.read"]}, "id_title_error"),
    ],
)
def test_create_form_errors_next_to_fields(as_user, dataset, ds_admin, data, field):
    response = as_user(ds_admin).post(keys_url(dataset), data)
    assert response.status_code == 200
    assert field in response.content.decode()
    assert not m.DatasetAPIKey.objects.exists()


def test_revoke_confirms_then_key_stops_working(as_user, dataset, ds_admin, rw_key):
    c = as_user(ds_admin)
    revoke = reverse("dashboard:api-key-revoke", args=[dataset.dataset_hash, rw_key.model.key_hash])
    confirm = c.get(revoke)
    assert confirm.status_code == 200 and "cannot be undone" in confirm.content.decode()
    assert rw_key.secret not in confirm.content.decode()
    assert c.post(revoke).status_code == 302
    with pytest.raises(AuthenticationError):
        Dataset.from_api_key(str(dataset.dataset_hash), rw_key.secret)
    assert c.get(revoke).status_code == 404  # already revoked
    assert (
        rw_key.model.title
        not in c.get(keys_url(dataset)).content.decode().split('<h2 class="flush">Create')[0]
    )


def test_revoke_is_404_for_users_and_foreign_keys(as_user, dataset, ds_user, rw_key, org_admin):
    revoke = reverse("dashboard:api-key-revoke", args=[dataset.dataset_hash, rw_key.model.key_hash])
    assert as_user(ds_user).post(revoke).status_code == 404
    other = UserClient.for_user(org_admin).create_dataset("other")
    foreign = reverse("dashboard:api-key-revoke", args=[other.dataset_hash, rw_key.model.key_hash])
    assert as_user(org_admin).post(foreign).status_code == 404
    rw_key.model.refresh_from_db()
    assert rw_key.model.revoked_at is None


@pytest.mark.parametrize("count", [2, 12])
def test_keys_page_queries_are_constant(as_user, dataset, ds_admin, count, django_assert_max_num_queries):
    client = UserClient.for_user(ds_admin)
    for i in range(count):
        client.create_dataset_api_key(str(dataset.dataset_hash), f"k{i}", ["dataset.read"])
    c = as_user(ds_admin)
    with django_assert_max_num_queries(6):
        response = c.get(keys_url(dataset))
    assert response.content.decode().count("Revoke…") == count


def _snippet_and_secret(body: str) -> tuple[str, str]:
    code = re.search(r'<pre class="snippet" id="python-snippet"><code>(.*?)</code></pre>', body, re.S)
    secret = re.search(r'id="secret" value="([^"]+)"', body)
    assert code and secret, "the created page shows no snippet or no secret"
    return html.unescape(code.group(1)), html.unescape(secret.group(1))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("scopes", [["dataset.read"], ["dataset.write"]])
def test_created_page_python_snippet_runs_with_sdk_0145(python_0145, live_server, dataset, ds_admin, scopes):
    """The snippet shown after creating a key is run, word for word with the secret pasted in,
    by encord==0.1.145 against a live server (the page is asked for on the live server's host, so
    its domain is the page's own)."""
    DataRowFactory(dataset=dataset, title="cam1.mp4")
    c = Client()
    c.force_login(ds_admin)
    host = live_server.url.split("://", 1)[1]
    body = c.post(keys_url(dataset), {"title": "script", "scopes": scopes}, HTTP_HOST=host).content.decode()
    assert "SDK <strong>0.1.145</strong>" in body
    snippet, secret = _snippet_and_secret(body)
    assert f'domain="{live_server.url}"' in snippet and snippet.count("<the secret above>") == 1
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENCORD_", "CORD_"))}
    proc = subprocess.run(
        [str(python_0145), "-c", snippet.replace("<the secret above>", secret)],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    if scopes == ["dataset.read"]:
        assert f"{dataset.title} 1 data items" in proc.stdout and "cam1.mp4" in proc.stdout
    else:
        assert f"key accepted for dataset {dataset.dataset_hash}" in proc.stdout
