"""People management in the SDK layer (datasets_app/sdk/people.py): the Users page's operations,
decided by the policy (Op.MANAGE_USERS: organisation admins only), invitations and reset links."""

from __future__ import annotations

import time

import pytest
from django.core import mail

from datasets_app import models as m
from datasets_app.sdk import UserClient, accounts, people
from datasets_app.sdk.exceptions import (
    AuthenticationError,
    AuthorisationError,
    InvalidArgumentError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from datasets_app.sdk.orm import DatasetUserRole
from datasets_app.sdk.policy import Op, Principal, may
from tests.factories import UserFactory


def invite_link(token: str) -> str:
    return f"https://dash.example/invitation/{token}"


def reset_link(user_hash: str, token: str) -> str:
    return f"https://dash.example/password/reset/{user_hash}/{token}"


def as_principal(user) -> Principal:
    return Principal(user=user)


def token_of(link) -> str:
    return link.url.rsplit("/", 1)[1]


# ---- who may --------------------------------------------------------------------------------------


def test_only_active_org_admins_may_manage_users(org_admin, ds_admin, ds_user, stranger):
    assert may(as_principal(org_admin), Op.MANAGE_USERS)
    for user in (ds_admin, ds_user, stranger):
        assert not may(as_principal(user), Op.MANAGE_USERS)
    gone = UserFactory(is_org_admin=True, is_active=False)
    assert not may(as_principal(gone), Op.MANAGE_USERS)


@pytest.mark.parametrize("persona", ["ds_admin", "ds_user", "stranger"])
def test_non_admins_are_refused_every_people_operation(request, persona, org_admin):
    who = as_principal(request.getfixturevalue(persona))
    target = str(org_admin.user_hash)
    calls = [
        lambda: people.list_people(who),
        lambda: people.invite_user(who, "new@example.com", link_for=invite_link),
        lambda: people.set_user_active(who, target, active=False),
        lambda: people.set_org_admin(who, target, admin=False),
        lambda: people.password_reset_link(who, target, link_for=reset_link),
        lambda: people.renew_invitation(who, target, link_for=invite_link),
        lambda: people.revoke_invitation(who, target),
    ]
    for call in calls:
        with pytest.raises(AuthorisationError):
            call()
    assert not m.User.objects.filter(email="new@example.com").exists()
    assert m.User.objects.get(pk=org_admin.pk).is_active


def test_a_deactivated_org_admin_is_refused(org_admin):
    gone = UserFactory(is_org_admin=True, is_active=False)
    with pytest.raises(AuthorisationError):
        people.list_people(as_principal(gone))


def test_an_api_key_is_refused(read_key):
    with pytest.raises(AuthorisationError):
        people.list_people(Principal(api_key=read_key.model))


# ---- the list -------------------------------------------------------------------------------------


def test_list_people_shows_status_in_one_query(org_admin, django_assert_num_queries):
    admin = as_principal(org_admin)
    for i in range(3):
        UserFactory()
    people.invite_user(admin, "pending@example.com", link_for=invite_link)
    with django_assert_num_queries(1):
        listed = people.list_people(admin)
    for i in range(20):
        UserFactory()
    with django_assert_num_queries(1):
        listed = people.list_people(admin)
    by_email = {p.email: p for p in listed}
    assert by_email[org_admin.email].is_me and by_email[org_admin.email].is_org_admin
    pending = by_email["pending@example.com"]
    assert pending.invited and not pending.is_active and pending.invitation_expires_at is not None
    assert not pending.invitation_expired


# ---- invitations ----------------------------------------------------------------------------------


def test_invitation_is_a_one_time_link_that_activates_the_account(org_admin):
    link = people.invite_user(as_principal(org_admin), "Ann@Example.com", link_for=invite_link, name="Ann")
    assert link.url.startswith("https://dash.example/invitation/") and not link.emailed
    user = m.User.objects.get(email="Ann@example.com")
    assert not user.is_active and not user.has_usable_password() and user.first_name == "Ann"
    # Nothing about the token is stored: the user row holds no part of it.
    assert token_of(link) not in user.password
    assert people.invitation_user(token_of(link)).pk == user.pk
    accepted = people.accept_invitation(token_of(link), "a long new passphrase")
    assert accepted.is_active and accepted.check_password("a long new passphrase")
    with pytest.raises(people.LinkNotValid) as used:
        people.accept_invitation(token_of(link), "another long passphrase")
    assert used.value.reason == "used"
    assert m.User.objects.get(pk=user.pk).check_password("a long new passphrase")


def test_invitation_refuses_weak_passwords_with_djangos_validators(org_admin):
    link = people.invite_user(as_principal(org_admin), "weak@example.com", link_for=invite_link)
    with pytest.raises(InvalidArgumentError):
        people.accept_invitation(token_of(link), "password")
    assert not m.User.objects.get(email="weak@example.com").is_active


def test_invitation_expires(org_admin, settings, monkeypatch):
    settings.INVITATION_EXPIRY_SECONDS = 3600
    link = people.invite_user(as_principal(org_admin), "late@example.com", link_for=invite_link)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3601)
    with pytest.raises(people.LinkNotValid) as late:
        people.accept_invitation(token_of(link), "a long new passphrase")
    assert late.value.reason == "expired"
    assert not m.User.objects.get(email="late@example.com").is_active


def test_revoked_invitation_removes_the_pending_account_and_its_link(org_admin, dataset):
    admin = as_principal(org_admin)
    link = people.invite_user(admin, "gone@example.com", link_for=invite_link)
    user = m.User.objects.get(email="gone@example.com")
    m.DatasetMembership.objects.create(dataset=dataset, user=user)
    assert people.revoke_invitation(admin, str(user.user_hash)) == "gone@example.com"
    assert not m.User.objects.filter(email="gone@example.com").exists()
    with pytest.raises(people.LinkNotValid) as revoked:
        people.invitation_user(token_of(link))
    assert revoked.value.reason == "revoked"


def test_a_renewed_invitation_replaces_the_earlier_link(org_admin):
    admin = as_principal(org_admin)
    first = people.invite_user(admin, "twice@example.com", link_for=invite_link)
    user = m.User.objects.get(email="twice@example.com")
    second = people.renew_invitation(admin, str(user.user_hash), link_for=invite_link)
    with pytest.raises(people.LinkNotValid) as old:
        people.invitation_user(token_of(first))
    assert old.value.reason == "replaced"
    assert people.accept_invitation(token_of(second), "a long new passphrase").is_active
    # Inviting the same address again while pending is a renewal, not a second account.
    again = people.invite_user(admin, "pending2@example.com", link_for=invite_link)
    again2 = people.invite_user(admin, "PENDING2@example.com", link_for=invite_link)
    assert m.User.objects.filter(email__iexact="pending2@example.com").count() == 1
    assert token_of(again) != token_of(again2)


def test_revoke_and_renew_refuse_accounts_that_are_not_invitations(org_admin, ds_user):
    admin = as_principal(org_admin)
    with pytest.raises(InvalidArgumentError):
        people.revoke_invitation(admin, str(ds_user.user_hash))
    with pytest.raises(InvalidArgumentError):
        people.renew_invitation(admin, str(ds_user.user_hash), link_for=invite_link)
    assert m.User.objects.filter(pk=ds_user.pk).exists()


def test_inviting_an_existing_account_is_refused(org_admin, ds_user):
    with pytest.raises(ResourceExistsError):
        people.invite_user(as_principal(org_admin), ds_user.email.upper(), link_for=invite_link)


def test_tampered_or_malformed_tokens_are_not_valid(org_admin):
    link = people.invite_user(as_principal(org_admin), "t@example.com", link_for=invite_link)
    token = token_of(link)
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "", "x" * 500, "a:b:c"):
        with pytest.raises(people.LinkNotValid) as err:
            people.invitation_user(bad)
        assert err.value.reason == "malformed"


def test_invitation_is_emailed_only_when_smtp_is_configured(org_admin, settings):
    admin = as_principal(org_admin)
    settings.EMAIL_HOST = ""
    people.invite_user(admin, "quiet@example.com", link_for=invite_link)
    assert mail.outbox == []
    settings.EMAIL_HOST = "smtp.example"
    link = people.invite_user(admin, "mailed@example.com", link_for=invite_link)
    assert link.emailed
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["mailed@example.com"]
    assert link.url in mail.outbox[0].body


def test_a_pending_invitee_cannot_use_the_sdk(org_admin):
    people.invite_user(as_principal(org_admin), "sdk@example.com", link_for=invite_link)
    with pytest.raises(AuthenticationError):
        accounts.issue_bearer_token(m.User.objects.get(email="sdk@example.com"))


# ---- members by e-mail ------------------------------------------------------------------------------


def test_org_admin_adding_an_unknown_address_invites_it_with_its_role(org_admin, dataset):
    ds = UserClient.for_user(org_admin).get_dataset(str(dataset.dataset_hash))
    member, link = people.add_member(ds, "newbie@example.com", DatasetUserRole.ADMIN, link_for=invite_link)
    assert link is not None and member.user_role == DatasetUserRole.ADMIN
    user = m.User.objects.get(email="newbie@example.com")
    assert m.DatasetMembership.objects.get(dataset=dataset, user=user).role == DatasetUserRole.ADMIN
    people.accept_invitation(token_of(link), "a long new passphrase")
    listed = UserClient.for_user(m.User.objects.get(pk=user.pk)).get_dataset(str(dataset.dataset_hash))
    assert listed.title == dataset.title


def test_dataset_admin_adding_an_unknown_address_creates_nothing(ds_admin, dataset):
    ds = UserClient.for_user(ds_admin).get_dataset(str(dataset.dataset_hash))
    member, link = people.add_member(ds, "nobody@example.com", DatasetUserRole.USER, link_for=invite_link)
    assert link is None and member.user_email == "nobody@example.com"
    assert not m.User.objects.filter(email="nobody@example.com").exists()


def test_adding_an_existing_account_makes_no_invitation(org_admin, dataset, stranger):
    ds = UserClient.for_user(org_admin).get_dataset(str(dataset.dataset_hash))
    member, link = people.add_member(ds, stranger.email, DatasetUserRole.USER, link_for=invite_link)
    assert link is None and member.user_email == stranger.email


# ---- deactivate, org admin --------------------------------------------------------------------------


def test_deactivation_revokes_bearer_tokens_and_reactivation_keeps_them_revoked(org_admin, ds_user):
    admin = as_principal(org_admin)
    token = accounts.issue_bearer_token(ds_user)
    people.set_user_active(admin, str(ds_user.user_hash), active=False)
    assert not m.User.objects.get(pk=ds_user.pk).is_active
    with pytest.raises(AuthenticationError):
        accounts.user_for_bearer_token(token)
    people.set_user_active(admin, str(ds_user.user_hash), active=True)
    assert m.User.objects.get(pk=ds_user.pk).is_active
    with pytest.raises(AuthenticationError):
        accounts.user_for_bearer_token(token)


def test_you_cannot_deactivate_yourself(org_admin):
    UserFactory(is_org_admin=True)
    with pytest.raises(InvalidArgumentError, match="yourself"):
        people.set_user_active(as_principal(org_admin), str(org_admin.user_hash), active=False)
    assert m.User.objects.get(pk=org_admin.pk).is_active


def test_the_last_active_org_admin_stays(org_admin):
    admin = as_principal(org_admin)
    with pytest.raises(InvalidArgumentError, match="last active organisation admin"):
        people.set_org_admin(admin, str(org_admin.user_hash), admin=False)
    other = UserFactory()
    people.set_org_admin(admin, str(other.user_hash), admin=True)
    assert m.User.objects.get(pk=other.pk).is_org_admin
    # An inactive org admin does not count as one who could take over.
    people.set_user_active(admin, str(other.user_hash), active=False)
    with pytest.raises(InvalidArgumentError, match="last active organisation admin"):
        people.set_org_admin(admin, str(org_admin.user_hash), admin=False)
    people.set_user_active(admin, str(other.user_hash), active=True)
    people.set_org_admin(admin, str(org_admin.user_hash), admin=False)
    assert not m.User.objects.get(pk=org_admin.pk).is_org_admin


def test_unknown_user_hash_is_not_found(org_admin):
    with pytest.raises(ResourceNotFoundError):
        people.set_org_admin(as_principal(org_admin), "9b0d8a5c-3c1e-4a57-9a55-0e8f6d3e0d11", admin=True)
    with pytest.raises(InvalidArgumentError):
        people.set_org_admin(as_principal(org_admin), "not-a-uuid", admin=True)


# ---- password reset links, own password ---------------------------------------------------------------


def test_password_reset_link_is_one_time(org_admin, ds_user):
    link = people.password_reset_link(as_principal(org_admin), str(ds_user.user_hash), link_for=reset_link)
    user_hash, token = link.url.split("/")[-2:]
    assert people.reset_link_user(user_hash, token).pk == ds_user.pk
    people.reset_password(user_hash, token, "a brand new passphrase")
    assert m.User.objects.get(pk=ds_user.pk).check_password("a brand new passphrase")
    with pytest.raises(people.LinkNotValid):
        people.reset_password(user_hash, token, "yet another passphrase")
    with pytest.raises(people.LinkNotValid):
        people.reset_link_user(str(org_admin.user_hash), token)


def test_reset_links_are_for_active_accounts_only(org_admin):
    admin = as_principal(org_admin)
    gone = UserFactory(is_active=False)
    with pytest.raises(InvalidArgumentError):
        people.password_reset_link(admin, str(gone.user_hash), link_for=reset_link)
    people.invite_user(admin, "inv@example.com", link_for=invite_link)
    invitee = m.User.objects.get(email="inv@example.com")
    with pytest.raises(InvalidArgumentError):
        people.password_reset_link(admin, str(invitee.user_hash), link_for=reset_link)


def test_change_password_needs_the_current_one(ds_user):
    with pytest.raises(InvalidArgumentError):
        people.change_password(ds_user, "wrong", "a brand new passphrase")
    with pytest.raises(InvalidArgumentError):
        people.change_password(ds_user, "correct horse battery", "123")
    people.change_password(ds_user, "correct horse battery", "a brand new passphrase")
    assert m.User.objects.get(pk=ds_user.pk).check_password("a brand new passphrase")
