"""The members page: ADMINs only; add by e-mail, change role, remove with confirmation; last ADMIN kept."""

from __future__ import annotations

import pytest
from django.urls import reverse

from datasets_app import models as m
from tests.factories import DatasetMembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def u(name, dataset):
    return reverse(f"dashboard:{name}", args=[dataset.dataset_hash])


def role_of(dataset, user):
    return m.DatasetMembership.objects.get(dataset=dataset, user=user).role


@pytest.mark.parametrize(
    "persona,status", [("org_admin", 200), ("ds_admin", 200), ("ds_user", 404), ("stranger", 404)]
)
def test_members_page_role_table(request, as_user, dataset, persona, status):
    newcomer = UserFactory()
    c = as_user(request.getfixturevalue(persona))
    assert c.get(u("members", dataset)).status_code == status
    c.post(u("members", dataset), {"email": newcomer.email, "role": "1"})
    assert m.DatasetMembership.objects.filter(dataset=dataset, user=newcomer).exists() == (status == 200)


def test_add_member_by_email_with_role(as_user, dataset, ds_admin):
    newcomer = UserFactory(email="New.Person@example.com")
    c = as_user(ds_admin)
    response = c.post(u("members", dataset), {"email": "new.person@example.com", "role": "0"})
    assert response.status_code == 302
    assert role_of(dataset, newcomer) == m.DatasetUserRole.ADMIN
    page = c.get(response["Location"]).content.decode()
    assert "Added new.person@example.com as Admin, if an account has that address" in page
    assert "New.Person@example.com" in page


def test_add_member_does_not_reveal_unknown_addresses(as_user, dataset, ds_admin):
    """Issue 11 item 12: a dataset ADMIN (not an org admin) hears the same for any address."""
    response = as_user(ds_admin).post(u("members", dataset), {"email": "nobody@example.com", "role": "1"})
    assert response.status_code == 302
    assert not dataset.memberships.filter(user__email="nobody@example.com").exists()


def test_org_admin_hears_of_unknown_addresses(as_user, dataset, org_admin):
    """...and invites them (issue 14; the invitation flow: tests/dashboard/test_users.py)."""
    response = as_user(org_admin).post(u("members", dataset), {"email": "nobody@example.com", "role": "1"})
    assert response.status_code == 200
    assert "nobody@example.com had no account: they are invited" in response.content.decode()


@pytest.mark.parametrize(
    "data,text",
    [
        ({"email": "not-an-email", "role": "1"}, "id_email_error"),
        ({"email": "", "role": "1"}, "id_email_error"),
        ({"email": "a@example.com", "role": "7"}, "id_role_error"),
    ],
)
def test_add_member_errors_next_to_field(as_user, dataset, ds_admin, data, text):
    response = as_user(ds_admin).post(u("members", dataset), data)
    assert response.status_code == 200
    assert text in response.content.decode()


def test_change_role_and_last_admin_is_kept(as_user, dataset, ds_admin, ds_user):
    c = as_user(ds_admin)
    assert c.post(u("member-role", dataset), {"email": ds_user.email, "role": "0"}).status_code == 302
    assert role_of(dataset, ds_user) == m.DatasetUserRole.ADMIN
    c.post(u("member-role", dataset), {"email": ds_user.email, "role": "1"})
    # ds_admin is now the only ADMIN: demoting them is refused with a message
    response = c.post(u("member-role", dataset), {"email": ds_admin.email, "role": "1"}, follow=True)
    assert "at least one ADMIN" in response.content.decode()
    assert role_of(dataset, ds_admin) == m.DatasetUserRole.ADMIN
    # and the page offers neither a role change nor removal for the last admin
    assert "last admin" in response.content.decode()


def test_remove_confirms_then_removes(as_user, dataset, ds_admin, ds_user):
    c = as_user(ds_admin)
    confirm = c.get(u("member-remove", dataset), {"email": ds_user.email})
    assert confirm.status_code == 200 and f"Remove {ds_user.email}?" in confirm.content.decode()
    assert m.DatasetMembership.objects.filter(dataset=dataset, user=ds_user).exists()
    assert c.post(u("member-remove", dataset), {"email": ds_user.email}).status_code == 302
    assert not m.DatasetMembership.objects.filter(dataset=dataset, user=ds_user).exists()
    # the removed user now gets 404 on the dataset
    assert (
        as_user(ds_user).get(reverse("dashboard:dataset-detail", args=[dataset.dataset_hash])).status_code
        == 404
    )


def test_last_admin_cannot_be_removed(as_user, dataset, ds_admin):
    c = as_user(ds_admin)
    response = c.post(u("member-remove", dataset), {"email": ds_admin.email}, follow=True)
    assert "at least one ADMIN" in response.content.decode()
    assert m.DatasetMembership.objects.filter(dataset=dataset, user=ds_admin).exists()


def test_remove_unknown_member_is_404(as_user, dataset, ds_admin, stranger):
    c = as_user(ds_admin)
    assert c.get(u("member-remove", dataset), {"email": stranger.email}).status_code == 404
    assert c.get(u("member-remove", dataset), {"email": "garbage"}).status_code == 404
    assert c.post(u("member-role", dataset), {"email": stranger.email, "role": "0"}).status_code == 404


@pytest.mark.parametrize("count", [2, 20])
def test_members_page_queries_are_constant(as_user, dataset, ds_admin, count, django_assert_max_num_queries):
    for _ in range(count):
        DatasetMembershipFactory(dataset=dataset, role=m.DatasetUserRole.USER)
    c = as_user(ds_admin)
    with django_assert_max_num_queries(7):
        response = c.get(u("members", dataset))
    assert response.content.decode().count("Remove…") == count
