"""Issue 11, item 5: bearer tokens. A stolen token must not renew itself, and its owner must be
able to kill it (Account page, deleting the SSH key that minted it, deactivating the account).

Every token here is obtained the way the encord SDK obtains one (`get_bearer_token()` over the
wire, signed with the user's Ed25519 key) and used through the real SDK against the live server."""

from __future__ import annotations

import pytest
from django.urls import reverse
from encord.exceptions import AuthenticationError, AuthorisationError
from encord.user_client import EncordUserClient

from datasets_app import models as m
from tests.api.conftest import fresh_rate_limits, register_key, sdk_client  # noqa: F401  (fixtures)
from tests.conftest import signed_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alice(db):
    return UserFactory()


def token_client(token: str, live_server) -> EncordUserClient:
    return EncordUserClient.create_with_bearer_token(token, domain=live_server.url)


def test_a_bearer_token_cannot_mint_another(sdk_client, alice, live_server):  # noqa: F811
    stolen = sdk_client(alice).get_bearer_token()
    thief = token_client(stolen, live_server)
    thief.get_datasets()  # the token itself works
    with pytest.raises(AuthorisationError, match="Ed25519"):
        thief.get_bearer_token()
    assert m.BearerToken.objects.filter(user=alice).count() == 1


def test_a_stolen_token_cannot_turn_into_lasting_credentials(
    sdk_client, ds_admin, dataset, rw_key, live_server  # noqa: F811
):
    """A dataset ADMIN's token must not create a dataset API key (no expiry) nor fetch existing
    key secrets: either would outlive the token's 24 hours and its revocation."""
    from tests.api.conftest import RawClient, error_code

    thief = RawClient(live_server.url, bearer=sdk_client(ds_admin).get_bearer_token())
    keys_before, reveals_before = m.DatasetAPIKey.objects.count(), m.APIKeySecretReveal.objects.count()
    payload = {"dataset_hash": str(dataset.dataset_hash), "title": "persist", "scopes": ["dataset.read"]}
    for method in ("POST", "GET"):
        envelope = thief.v1("datasetapikey", method, payload=payload, endpoint="user")
        assert error_code(envelope) == "AUTHORISATION_ERROR" and "Ed25519" in envelope["payload"]
        assert rw_key.secret not in str(envelope)
    assert m.DatasetAPIKey.objects.count() == keys_before
    assert m.APIKeySecretReveal.objects.count() == reveals_before
    # the same requests signed with the admin's key still work
    signer = RawClient(live_server.url, key=register_key(ds_admin))
    assert error_code(signer.v1("datasetapikey", "GET", payload=payload, endpoint="user")) is None


def test_signed_mint_still_works_and_stores_no_secret(sdk_client, alice, live_server):  # noqa: F811
    token = sdk_client(alice).get_bearer_token()
    token_client(token, live_server).get_datasets()
    row = m.BearerToken.objects.get(user=alice)
    stored = [str(getattr(row, f.attname)) for f in row._meta.concrete_fields]
    assert not any(token in value for value in stored)
    assert row.public_key is not None and row.public_key.user == alice  # minted by this key


def test_account_page_lists_and_revokes_tokens(sdk_client, alice, live_server):  # noqa: F811
    token = sdk_client(alice).get_bearer_token()
    other = sdk_client(alice).get_bearer_token()
    row = m.BearerToken.objects.order_by("id").first()
    assert token.startswith(row.prefix) and len(row.prefix) < len(token) // 4
    browser = signed_in(alice)
    page = browser.get(reverse("dashboard:account")).content.decode()
    assert "Bearer tokens" in page
    assert token not in page and other not in page  # never the secret
    assert row.prefix in page and page.count("Revoke") >= 2

    response = browser.post(reverse("dashboard:bearer-token-revoke", args=[row.pk]))
    assert response.status_code == 302
    with pytest.raises(AuthenticationError):
        token_client(token, live_server).get_datasets()
    token_client(other, live_server).get_datasets()  # only that one
    after = browser.get(reverse("dashboard:account")).content.decode()
    listed = after.split('id="bearer-tokens"', 1)[1].split("</section>", 1)[0]
    assert row.prefix not in listed and other[:6] in listed


def test_nobody_revokes_someone_elses_token(sdk_client, alice, live_server):  # noqa: F811
    token = sdk_client(alice).get_bearer_token()
    row = m.BearerToken.objects.get(user=alice)
    mallory = UserFactory()
    response = signed_in(mallory).post(reverse("dashboard:bearer-token-revoke", args=[row.pk]))
    assert response.status_code == 404
    token_client(token, live_server).get_datasets()


def test_revoke_all_tokens(sdk_client, alice, live_server):  # noqa: F811
    tokens = [sdk_client(alice).get_bearer_token() for _ in range(2)]
    assert signed_in(alice).post(reverse("dashboard:bearer-tokens-revoke-all")).status_code == 302
    for token in tokens:
        with pytest.raises(AuthenticationError):
            token_client(token, live_server).get_datasets()


def test_deleting_the_ssh_key_revokes_the_tokens_it_minted(sdk_client, alice, live_server):  # noqa: F811
    token = sdk_client(alice).get_bearer_token()
    key = m.PublicKey.objects.get(user=alice)
    response = signed_in(alice).post(reverse("dashboard:public-key-delete", args=[key.pk]))
    assert response.status_code == 302
    with pytest.raises(AuthenticationError):
        token_client(token, live_server).get_datasets()


def test_deactivating_a_user_kills_their_tokens_for_good(sdk_client, alice, live_server):  # noqa: F811
    token = sdk_client(alice).get_bearer_token()
    alice.is_active = False
    alice.save()  # what the admin site and `manage.py shell` do
    with pytest.raises(AuthenticationError):
        token_client(token, live_server).get_datasets()
    alice.is_active = True  # re-activated after the incident: the old token stays dead
    alice.save()
    with pytest.raises(AuthenticationError):
        token_client(token, live_server).get_datasets()
    token_client(sdk_client(alice).get_bearer_token(), live_server).get_datasets()  # a new one works


def test_deactivate_user_command_revokes_tokens(sdk_client, alice, live_server):  # noqa: F811
    from django.core.management import call_command

    token = sdk_client(alice).get_bearer_token()
    call_command("deactivate_user", alice.email)
    alice.refresh_from_db()
    assert not alice.is_active
    assert not m.BearerToken.objects.filter(user=alice, revoked_at__isnull=True).exists()
    with pytest.raises(AuthenticationError):
        token_client(token, live_server).get_datasets()


def test_migration_0005_keeps_existing_tokens_and_ids(transactional_db):
    """0005 adds columns to BearerToken: a populated table migrates with ids, digests and users
    intact, and a token issued before it still authenticates (it expires within 24 h)."""
    import datetime as dt

    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from datasets_app import crypto
    from datasets_app.sdk import accounts

    before = [("datasets_app", "0004_sequence_videos")]
    after = [("datasets_app", "0005_token_revocation_key_reveals")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    user = old.get_model("datasets_app", "User").objects.create(
        email="old@example.com", username="old@example.com"
    )
    token = "legacy-token-issued-before-0005"
    row = old.get_model("datasets_app", "BearerToken").objects.create(
        user=user,
        token_digest=crypto.secret_digest(token),
        expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
    )
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    migrated = m.BearerToken.objects.get(pk=row.pk)
    assert migrated.user_id == user.pk and migrated.prefix == "" and migrated.public_key is None
    assert migrated.revoked_at is None
    assert accounts.user_for_bearer_token(token).pk == user.pk
    MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())
