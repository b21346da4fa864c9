"""The folder rows of the policy table: roles from owner, folder members, mirrored datasets and
ancestors; organisation admins everywhere; keys nowhere; missing = forbidden, word for word."""

from __future__ import annotations

import uuid

import pytest

from datasets_app import models as m
from datasets_app.sdk.exceptions import AuthorisationError, InvalidArgumentError
from datasets_app.sdk.folder_access import require_folder, require_item, user_role_on
from datasets_app.sdk.policy import FOLDER_OPS, POLICY, Grant, Op, Principal, may
from tests.factories import (
    DatasetFactory,
    DatasetMembershipFactory,
    StorageFolderFactory,
    StorageItemFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _expect(principal, folder, op, grants):
    if POLICY[op] & grants:
        assert require_folder(principal, folder.folder_uuid, op).pk == folder.pk
    elif not grants:
        with pytest.raises(AuthorisationError) as err:
            require_folder(principal, folder.folder_uuid, op)
        missing = uuid.uuid4()
        with pytest.raises(AuthorisationError) as err_missing:
            require_folder(principal, missing, op)
        assert str(err.value).replace(str(folder.folder_uuid), "X") == str(err_missing.value).replace(str(missing), "X")
    else:
        with pytest.raises(AuthorisationError, match="does not allow"):
            require_folder(principal, folder.folder_uuid, op)


@pytest.mark.parametrize("op", sorted(FOLDER_OPS))
@pytest.mark.parametrize("who", ["owner", "folder_admin", "folder_user", "org_admin", "ds_admin_of_mirror",
                                 "ds_user_of_mirror", "stranger", "member_of_parent"])
def test_folder_policy_cell(op, who):
    owner = UserFactory()
    parent = StorageFolderFactory(owner=owner)
    folder = StorageFolderFactory(parent=parent, owner=owner)
    user = owner if who == "owner" else UserFactory(is_org_admin=(who == "org_admin"))
    grants = {
        "owner": {Grant.FOLDER_ADMIN},
        "folder_admin": {Grant.FOLDER_ADMIN},
        "folder_user": {Grant.FOLDER_USER},
        "org_admin": {Grant.ORG_ADMIN},
        "ds_admin_of_mirror": {Grant.FOLDER_ADMIN},
        "ds_user_of_mirror": {Grant.FOLDER_USER},
        "stranger": set(),
        "member_of_parent": {Grant.FOLDER_USER},
    }[who]
    if who in ("folder_admin", "folder_user"):
        m.FolderMembership.objects.create(folder=folder, user=user, role=0 if who == "folder_admin" else 1)
    if who.endswith("_of_mirror"):
        ds = DatasetFactory(backing_folder=folder)
        DatasetMembershipFactory(dataset=ds, user=user, role=0 if who.startswith("ds_admin") else 1)
    if who == "member_of_parent":
        m.FolderMembership.objects.create(folder=parent, user=user, role=1)
    _expect(Principal(user=user), folder, op, grants)


def test_keys_reach_no_folder(read_key, dataset):
    folder = dataset.backing_folder
    for op in FOLDER_OPS:
        with pytest.raises(AuthorisationError, match="does not exist or you do not have access"):
            require_folder(Principal(api_key=read_key.model), folder.folder_uuid, op)
    assert may(Principal(api_key=read_key.model), Op.CREATE_FOLDERS) is False


def test_any_active_account_creates_folders_and_inactive_cannot():
    assert may(Principal(user=UserFactory()), Op.CREATE_FOLDERS)
    assert not may(Principal(user=UserFactory(is_active=False)), Op.CREATE_FOLDERS)


def test_item_follows_its_folder_and_missing_items_read_as_forbidden():
    owner, stranger = UserFactory(), UserFactory()
    item = StorageItemFactory(folder=StorageFolderFactory(owner=owner))
    assert require_item(Principal(user=owner), str(item.item_uuid), Op.MANAGE_FILES).pk == item.pk
    with pytest.raises(AuthorisationError, match=f"Item {item.item_uuid} does not exist or you do not have"):
        require_item(Principal(user=stranger), item.item_uuid, Op.READ_FILES)
    with pytest.raises(InvalidArgumentError):
        require_item(Principal(user=owner), "not-a-uuid", Op.READ_FILES)


def test_wire_role_is_admin_for_org_admins_and_folder_admins():
    assert user_role_on(frozenset({Grant.ORG_ADMIN})) == "admin"
    assert user_role_on(frozenset({Grant.FOLDER_ADMIN})) == "admin"
    assert user_role_on(frozenset({Grant.FOLDER_USER})) == "user"


def test_a_deactivated_owner_reaches_nothing():
    owner = UserFactory()
    folder = StorageFolderFactory(owner=owner)
    owner.is_active = False
    owner.save()
    with pytest.raises(AuthorisationError, match="does not exist or you do not have access"):
        require_folder(Principal(user=owner), folder.folder_uuid, Op.READ_FILES)


def test_the_role_on_a_deep_folder_costs_the_same_queries_as_on_a_shallow_one():
    owner, member = UserFactory(), UserFactory()

    def chain(depth):
        folder = StorageFolderFactory(owner=owner)
        top = folder
        for _ in range(depth):
            folder = StorageFolderFactory(owner=owner, parent=folder)
        m.FolderMembership.objects.create(folder=top, user=member, role=1)
        return folder

    shallow, deep = chain(2), chain(12)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        require_folder(Principal(user=member), shallow.folder_uuid, Op.READ_FILES)
    with CaptureQueriesContext(connection) as many:
        require_folder(Principal(user=member), deep.folder_uuid, Op.READ_FILES)
    assert len(many) == len(few)
