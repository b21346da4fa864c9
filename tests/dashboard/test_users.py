"""The people pages: Users (organisation admins), invitation and reset-link pages, password change
on the Account page, and inviting from a dataset's Members page."""

from __future__ import annotations

import re
import time

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from datasets_app import models as m
from datasets_app.sdk import accounts
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new passphrase"
LINK_RE = re.compile(r'id="one-time-url" value="([^"]+)"')


def link_in(response) -> str:
    found = LINK_RE.search(response.content.decode())
    assert found, "no one-time link on the page"
    return found.group(1)


def path_of(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def without_csrf(response) -> str:
    """The page without its masked CSRF tokens (different in every response)."""
    return re.sub(
        r'(X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]*"', "", response.content.decode()
    )


def invite(client, email="new@example.com", **extra):
    response = client.post(reverse("dashboard:users"), {"email": email, **extra})
    assert response.status_code == 200, response.content[:2000]
    return response


# ---- who sees the page ------------------------------------------------------------------------------


def test_users_link_is_in_the_nav_for_org_admins_only(as_user, org_admin, ds_admin):
    users = reverse("dashboard:users")
    assert f'href="{users}"' in as_user(org_admin).get(reverse("dashboard:account")).content.decode()
    assert f'href="{users}"' not in as_user(ds_admin).get(reverse("dashboard:account")).content.decode()


@pytest.mark.parametrize("persona", ["ds_admin", "ds_user", "stranger"])
def test_non_admins_get_the_sites_404_on_every_users_page(request, as_user, persona, org_admin):
    client = as_user(request.getfixturevalue(persona))
    missing = client.get("/no-such-page")
    h = org_admin.user_hash
    gets = ["users", ("user-deactivate", h), ("invitation-revoke", h)]
    posts = [
        ("users", None, {"email": "x@example.com"}),
        ("user-org-admin", h, {"admin": "0"}),
        ("user-deactivate", h, {}),
        ("user-reactivate", h, {}),
        ("user-reset-link", h, {}),
        ("invitation-renew", h, {}),
        ("invitation-revoke", h, {}),
    ]
    for name in gets:
        url = (
            reverse(f"dashboard:{name}")
            if isinstance(name, str)
            else reverse(f"dashboard:{name[0]}", args=[name[1]])
        )
        response = client.get(url)
        assert response.status_code == 404 and without_csrf(response) == without_csrf(missing)
    for name, arg, data in posts:
        response = client.post(reverse(f"dashboard:{name}", args=[arg] if arg else []), data)
        assert response.status_code == 404, name
    assert not m.User.objects.filter(email="x@example.com").exists()
    assert m.User.objects.get(pk=org_admin.pk).is_org_admin and m.User.objects.get(pk=org_admin.pk).is_active


def test_users_page_lists_people_with_their_status(as_user, org_admin):
    UserFactory(email="gone@example.com", is_active=False)
    client = as_user(org_admin)
    invite(client, "pending@example.com")
    page = client.get(reverse("dashboard:users")).content.decode()
    for text in (
        org_admin.email,
        "gone@example.com",
        "Deactivated",
        "pending@example.com",
        "Invited",
        "(you)",
    ):
        assert text in page
    assert 'id="one-time-url"' not in page  # the link is never shown again


def test_users_page_queries_do_not_grow(as_user, org_admin, django_assert_max_num_queries):
    client = as_user(org_admin)
    for _ in range(3):
        UserFactory()
    with django_assert_max_num_queries(6) as few:
        client.get(reverse("dashboard:users"))
    for _ in range(30):
        UserFactory()
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("dashboard:users"))


# ---- invitations --------------------------------------------------------------------------------------


def test_invite_shows_the_link_once_and_the_invitee_signs_in(as_user, org_admin):
    response = invite(as_user(org_admin), "ann@example.com", name="Ann", org_admin="on")
    assert "no-store" in response["Cache-Control"]
    url = link_in(response)
    assert mail.outbox == []  # no EMAIL_HOST: nothing sent
    invitee = Client()
    page = invitee.get(path_of(url))
    assert page.status_code == 200 and "ann@example.com" in page.content.decode()
    weak = invitee.post(path_of(url), {"new_password1": "password", "new_password2": "password"})
    assert weak.status_code == 200 and "too common" in weak.content.decode()
    done = invitee.post(path_of(url), {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302 and done["Location"] == reverse("dashboard:dataset-list")
    user = m.User.objects.get(email="ann@example.com")
    assert user.is_active and user.is_org_admin and user.first_name == "Ann"
    assert invitee.get(reverse("dashboard:dataset-list")).status_code == 200
    again = Client().get(path_of(url))
    assert again.status_code == 200 and "Invitation already used" in again.content.decode()
    assert Client().login(email="ann@example.com", password=NEW_PASSWORD)


def test_invite_is_emailed_when_smtp_is_configured(as_user, org_admin, settings):
    settings.EMAIL_HOST = "smtp.example"
    url = link_in(invite(as_user(org_admin), "mailed@example.com"))
    assert len(mail.outbox) == 1 and url in mail.outbox[0].body


def test_inviting_an_existing_account_is_a_form_error(as_user, org_admin, stranger):
    response = as_user(org_admin).post(reverse("dashboard:users"), {"email": stranger.email})
    assert response.status_code == 200 and "already has an account" in response.content.decode()
    assert 'id="one-time-url"' not in response.content.decode()


def test_expired_revoked_replaced_and_garbled_links_get_a_clear_page(
    as_user, org_admin, settings, monkeypatch
):
    client = as_user(org_admin)
    first = path_of(link_in(invite(client, "a@example.com")))
    user = m.User.objects.get(email="a@example.com")
    second = path_of(link_in(client.post(reverse("dashboard:invitation-renew", args=[user.user_hash]))))
    assert "Invitation replaced" in Client().get(first).content.decode()
    assert "Not a valid link" in Client().get(second[:-3]).content.decode()
    assert "Welcome" in Client().get(second).content.decode()
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + settings.INVITATION_EXPIRY_SECONDS + 5)
    late = Client().post(second, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert late.status_code == 200 and "Invitation expired" in late.content.decode()
    monkeypatch.setattr(time, "time", real)
    confirm = client.get(reverse("dashboard:invitation-revoke", args=[user.user_hash]))
    assert confirm.status_code == 200 and "Revoke the invitation of a@example.com" in confirm.content.decode()
    assert client.post(reverse("dashboard:invitation-revoke", args=[user.user_hash])).status_code == 302
    revoked = Client().get(second)
    assert revoked.status_code == 200 and "Invitation revoked" in revoked.content.decode()
    assert not m.User.objects.filter(email="a@example.com").exists()


# ---- deactivate, org admin ------------------------------------------------------------------------------


def test_deactivate_confirms_then_signs_out_and_revokes_tokens(as_user, org_admin, ds_user):
    client, theirs = as_user(org_admin), as_user(ds_user)
    token = accounts.issue_bearer_token(ds_user)
    url = reverse("dashboard:user-deactivate", args=[ds_user.user_hash])
    assert "Deactivate " + ds_user.email in client.get(url).content.decode()
    assert m.User.objects.get(pk=ds_user.pk).is_active
    assert client.post(url).status_code == 302
    assert not m.User.objects.get(pk=ds_user.pk).is_active
    assert m.BearerToken.objects.get().revoked_at is not None
    assert theirs.get(reverse("dashboard:dataset-list")).status_code == 302  # their session no longer works
    client.post(reverse("dashboard:user-reactivate", args=[ds_user.user_hash]))
    assert m.User.objects.get(pk=ds_user.pk).is_active
    assert token  # still revoked: checked in tests/sdk/test_people.py


def test_you_cannot_deactivate_yourself_nor_drop_the_last_org_admin(as_user, org_admin):
    client = as_user(org_admin)
    response = client.post(reverse("dashboard:user-deactivate", args=[org_admin.user_hash]), follow=True)
    assert "You cannot deactivate yourself" in response.content.decode()
    response = client.post(
        reverse("dashboard:user-org-admin", args=[org_admin.user_hash]), {"admin": "0"}, follow=True
    )
    assert "last active organisation admin" in response.content.decode()
    assert m.User.objects.get(pk=org_admin.pk).is_org_admin and m.User.objects.get(pk=org_admin.pk).is_active


def test_make_and_unmake_org_admin(as_user, org_admin, stranger):
    client = as_user(org_admin)
    url = reverse("dashboard:user-org-admin", args=[stranger.user_hash])
    client.post(url, {"admin": "1"})
    assert m.User.objects.get(pk=stranger.pk).is_org_admin
    assert as_user(stranger).get(reverse("dashboard:users")).status_code == 200
    client.post(url, {"admin": "0"})
    assert not m.User.objects.get(pk=stranger.pk).is_org_admin


def test_unknown_user_is_404(as_user, org_admin):
    url = reverse("dashboard:user-deactivate", args=["9b0d8a5c-3c1e-4a57-9a55-0e8f6d3e0d11"])
    assert as_user(org_admin).get(url).status_code == 404


# ---- reset links ----------------------------------------------------------------------------------------


def test_reset_link_lets_the_user_choose_a_password_once(as_user, org_admin, ds_user):
    response = as_user(org_admin).post(reverse("dashboard:user-reset-link", args=[ds_user.user_hash]))
    url = path_of(link_in(response))
    person = Client()
    assert "Choose a new password" in person.get(url).content.decode()
    mismatch = person.post(url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD + "x"})
    assert mismatch.status_code == 200 and "field-error" in mismatch.content.decode()
    done = person.post(url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert m.User.objects.get(pk=ds_user.pk).check_password(NEW_PASSWORD)
    used = Client().get(url)
    assert used.status_code == 200 and "Password link no longer works" in used.content.decode()


def test_reset_link_for_a_deactivated_user_is_refused(as_user, org_admin):
    gone = UserFactory(is_active=False)
    response = as_user(org_admin).post(
        reverse("dashboard:user-reset-link", args=[gone.user_hash]), follow=True
    )
    assert "reactivate the account first" in response.content.decode()


# ---- own password ------------------------------------------------------------------------------------------


def test_change_password_keeps_this_session_and_ends_the_others(ds_user):
    this, other = Client(), Client()
    this.login(email=ds_user.email, password=PASSWORD)
    other.login(email=ds_user.email, password=PASSWORD)
    url = reverse("dashboard:password-change")
    wrong = this.post(
        url, {"old_password": "nope", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert wrong.status_code == 200 and "current password is not right" in wrong.content.decode()
    weak = this.post(
        url, {"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"}
    )
    assert weak.status_code == 200 and "field-error" in weak.content.decode()
    done = this.post(
        url, {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert done.status_code == 302
    assert this.get(reverse("dashboard:account")).status_code == 200
    assert other.get(reverse("dashboard:account")).status_code == 302
    assert m.User.objects.get(pk=ds_user.pk).check_password(NEW_PASSWORD)


def test_wrong_current_passwords_are_throttled_like_sign_ins(as_user, ds_user):
    client = as_user(ds_user)
    url = reverse("dashboard:password-change")
    bad = {"old_password": "nope", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    for _ in range(5):
        assert client.post(url, bad).status_code == 200
    good = {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    throttled = client.post(url, good)
    assert throttled.status_code == 429 and "Wait" in throttled.content.decode()
    assert not m.User.objects.get(pk=ds_user.pk).check_password(NEW_PASSWORD)
    # The sign-in form counts the same failures.
    signin = Client().post(reverse("dashboard:login"), {"username": ds_user.email, "password": PASSWORD})
    assert signin.status_code == 429


# ---- members page --------------------------------------------------------------------------------------------


def test_org_admin_adding_an_unknown_member_invites_them(as_user, org_admin, dataset):
    response = as_user(org_admin).post(
        reverse("dashboard:members", args=[dataset.dataset_hash]),
        {"email": "newbie@example.com", "role": "0"},
    )
    assert response.status_code == 200
    url = link_in(response)
    assert "had no account: they are invited" in response.content.decode()
    user = m.User.objects.get(email="newbie@example.com")
    assert m.DatasetMembership.objects.get(dataset=dataset, user=user).role == m.DatasetUserRole.ADMIN
    invitee = Client()
    invitee.post(path_of(url), {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert invitee.get(reverse("dashboard:members", args=[dataset.dataset_hash])).status_code == 200


def test_dataset_admin_adding_an_unknown_member_invites_nobody(as_user, ds_admin, dataset):
    response = as_user(ds_admin).post(
        reverse("dashboard:members", args=[dataset.dataset_hash]),
        {"email": "nobody@example.com", "role": "1"},
    )
    assert response.status_code == 302
    assert not m.User.objects.filter(email="nobody@example.com").exists()
