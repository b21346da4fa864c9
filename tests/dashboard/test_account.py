"""The account page: register an OpenSSH Ed25519 public key, or generate a pair and download the
private key once; list and delete keys; the Python snippet names this server."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_ssh_private_key,
)
from django.urls import reverse

from datasets_app import models as m
from datasets_app.sdk import accounts
from tests.api.conftest import openssh_public
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def new_public_key_line() -> str:
    """A fresh key's OpenSSH public line, with a comment as people paste it."""
    return openssh_public(Ed25519PrivateKey.generate()) + " me@laptop"


def test_account_page_shows_snippet_with_domain(as_user, stranger):
    page = as_user(stranger).get(reverse("dashboard:account")).content.decode()
    assert 'domain="http://testserver"' in page
    assert "No keys yet." in page


def test_register_public_key(as_user, stranger):
    c = as_user(stranger)
    line = new_public_key_line()
    response = c.post(reverse("dashboard:account"), {"public_key": line, "title": "laptop"})
    assert response.status_code == 302
    key = m.PublicKey.objects.get(user=stranger)
    assert key.title == "laptop"
    assert key.fingerprint in c.get(reverse("dashboard:account")).content.decode()


@pytest.mark.parametrize(
    "value,text",
    [
        ("", "id_public_key_error"),
        ("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ x", "Only Ed25519 keys"),
        ("ssh-ed25519 AAAAnotbase64!!", "not a valid OpenSSH Ed25519 public key"),
    ],
)
def test_register_bad_key_shows_error_next_to_field(as_user, stranger, value, text):
    response = as_user(stranger).post(reverse("dashboard:account"), {"public_key": value})
    assert response.status_code == 200
    assert text in response.content.decode()
    assert not m.PublicKey.objects.exists()


def test_register_duplicate_key_is_a_form_error(as_user, stranger):
    line = new_public_key_line()
    accounts.add_public_key(UserFactory(), line)
    response = as_user(stranger).post(reverse("dashboard:account"), {"public_key": line})
    assert response.status_code == 200 and "already registered" in response.content.decode()


def test_generate_pair_hands_over_private_key_once(as_user, stranger):
    c = as_user(stranger)
    response = c.post(reverse("dashboard:key-pair-generate"), {"title": "gen"})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    page = response.content.decode()
    assert "Download private key" in page and 'download="datasets_ed25519"' in page
    pem = page[page.index("-----BEGIN OPENSSH PRIVATE KEY-----"):page.index("-----END OPENSSH PRIVATE KEY-----")]
    private = load_ssh_private_key((pem + "-----END OPENSSH PRIVATE KEY-----\n").encode(), password=None)
    public_hex = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    registered = m.PublicKey.objects.get(user=stranger)
    assert registered.key_hex == public_hex and registered.title == "gen"
    # once only: the next page does not have it, and it was never stored
    assert "Download private key" not in c.get(reverse("dashboard:account")).content.decode()
    assert b"PRIVATE KEY" not in b"".join(
        str(v).encode() for v in m.PublicKey.objects.values_list("openssh", flat=True)
    )


def test_delete_key_confirms_and_only_own_keys(as_user, stranger):
    mine = accounts.add_public_key(stranger, new_public_key_line())
    theirs = accounts.add_public_key(UserFactory(), new_public_key_line())
    c = as_user(stranger)
    url = reverse("dashboard:public-key-delete", args=[mine.pk])
    assert "stop working" in c.get(url).content.decode()
    assert c.post(url).status_code == 302
    assert not m.PublicKey.objects.filter(pk=mine.pk).exists()
    assert c.post(reverse("dashboard:public-key-delete", args=[theirs.pk])).status_code == 404
    assert m.PublicKey.objects.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize("count", [1, 10])
def test_account_page_queries_are_constant(as_user, stranger, count, django_assert_max_num_queries):
    for _ in range(count):
        accounts.add_public_key(stranger, new_public_key_line())
    c = as_user(stranger)
    with django_assert_max_num_queries(4):
        response = c.get(reverse("dashboard:account"))
    assert response.content.decode().count("Delete…") == count
