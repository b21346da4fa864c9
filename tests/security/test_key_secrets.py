"""Issue 11, item 8: dataset API key secrets. The seed's SDK (encord 0.1.145) fetches a dataset's
keys WITH their secrets, so a dataset ADMIN can read a secret again at any time. The dashboard must
say so (it used to promise the secret was shown only once), and every reveal must leave a record
(who, when, which key, through what) that the dataset's ADMINs see on the API keys page."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from django.urls import reverse

from datasets_app import models as m
from datasets_app.sdk import UserClient
from tests.api.conftest import openssh_private, register_key
from tests.conftest import signed_in
from tests.api.test_sdk_0145 import python_0145  # noqa: F401  (fixture: the seed's SDK, 0.1.145)

FETCH_KEYS = """
import json, sys
from encord import EncordUserClient
cfg = json.load(sys.stdin)
client = EncordUserClient.create_with_ssh_private_key(cfg["key"], domain=cfg["url"])
print(json.dumps([[k.key_hash, k.api_key] for k in client.get_dataset_api_keys(cfg["dataset_hash"])]))
"""


def keys_url(dataset) -> str:
    return reverse("dashboard:api-keys", args=[dataset.dataset_hash])


def fetch_keys_with_sdk_0145(python, live_server, user, dataset) -> list[list[str]]:
    cfg = {
        "url": live_server.url,
        "key": openssh_private(register_key(user)),
        "dataset_hash": str(dataset.dataset_hash),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENCORD_", "CORD_"))}
    proc = subprocess.run(
        [str(python), "-c", FETCH_KEYS], input=json.dumps(cfg), capture_output=True, text=True,
        timeout=120, env=env, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.django_db(transaction=True)
def test_sdk_fetch_of_secrets_is_recorded_and_shown_to_admins(
    python_0145, live_server, dataset, ds_admin, rw_key  # noqa: F811
):
    before = signed_in(ds_admin).get(keys_url(dataset)).content.decode()
    assert "Secret reveals" in before and "API v1" not in before

    fetched = fetch_keys_with_sdk_0145(python_0145, live_server, ds_admin, dataset)
    assert fetched == [[str(rw_key.model.key_hash), rw_key.secret]]  # the seed's SDK gets the secret

    [reveal] = m.APIKeySecretReveal.objects.filter(api_key=rw_key.model, via__startswith="API")
    assert reveal.user == ds_admin and reveal.user_email == ds_admin.email
    assert reveal.via.startswith("API v1") and "0.1.145" in reveal.via
    page = signed_in(ds_admin).get(keys_url(dataset)).content.decode()
    table = page.split("Secret reveals", 1)[1]
    assert ds_admin.email in table and rw_key.model.title in table and "API v1" in table
    assert rw_key.secret not in page


@pytest.mark.django_db
def test_in_process_fetch_is_recorded_too(dataset, ds_admin, rw_key):
    """rw_key was created in-process (one reveal: its creation); fetching it again is another."""
    assert m.APIKeySecretReveal.objects.filter(api_key=rw_key.model).count() == 1
    UserClient.for_user(ds_admin).get_dataset_api_keys(str(dataset.dataset_hash))
    UserClient.for_user(ds_admin).get_or_create_dataset_api_key(str(dataset.dataset_hash))
    reveals = m.APIKeySecretReveal.objects.filter(api_key=rw_key.model)
    assert reveals.count() == 3 and {r.user for r in reveals} == {ds_admin}


@pytest.mark.django_db
def test_the_keys_page_itself_reveals_nothing(dataset, ds_admin, rw_key):
    """Listing keys on the dashboard (masked) and confirming a revoke are not reveals."""
    c = signed_in(ds_admin)
    before = m.APIKeySecretReveal.objects.count()
    assert rw_key.secret not in c.get(keys_url(dataset)).content.decode()
    c.get(reverse("dashboard:api-key-revoke", args=[dataset.dataset_hash, rw_key.model.key_hash]))
    assert m.APIKeySecretReveal.objects.count() == before


@pytest.mark.django_db
def test_created_page_tells_the_truth(dataset, ds_admin):
    response = signed_in(ds_admin).post(keys_url(dataset), {"title": "pipeline", "scopes": ["dataset.read"]})
    page = response.content.decode()
    assert "only time it is shown" not in page
    assert "dataset's ADMINs can fetch it again" in page and "recorded" in page
    key = m.DatasetAPIKey.objects.get(dataset=dataset)
    [reveal] = m.APIKeySecretReveal.objects.filter(api_key=key)  # creation shows it: recorded too
    assert reveal.user == ds_admin and reveal.via == "dashboard (created)"
    listing = signed_in(ds_admin).get(keys_url(dataset)).content.decode()
    assert "dataset's ADMINs can fetch" in listing  # the list page says it as well


@pytest.mark.django_db
def test_dataset_users_see_neither_keys_nor_reveals(dataset, ds_admin, ds_user, rw_key):
    UserClient.for_user(ds_admin).get_dataset_api_keys(str(dataset.dataset_hash))
    assert signed_in(ds_user).get(keys_url(dataset)).status_code == 404
