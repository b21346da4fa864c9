"""The schema's rules in the SDK layer: who may write, which changes a save may make (§6.2-6.3),
and the legacy translation (§6.5)."""

from __future__ import annotations

import re

import pytest

from datasets_app import models as m
from datasets_app.sdk.exceptions import AuthorisationError, InvalidArgumentError
from datasets_app.sdk.metadata_schema import get_legacy_schema, get_schema, save_legacy_schema, save_schema
from datasets_app.sdk.policy import Principal
from tests.factories import UserFactory

NUMBER = {"ty": "variant", "hint": "number"}
ENUM = {"ty": "enum", "values": ["rain", "sun"]}


@pytest.fixture
def admin(db):
    return Principal(user=UserFactory(is_org_admin=True))


def test_deactivated_accounts_read_nothing(db):
    with pytest.raises(AuthorisationError):
        get_schema(Principal(user=UserFactory(is_active=False)))


def test_org_admin_only_writes(admin):
    with pytest.raises(AuthorisationError, match="organisation admins"):
        save_schema(Principal(user=UserFactory()), {"a": NUMBER})
    save_schema(admin, {"a": NUMBER})
    assert get_schema(Principal(user=UserFactory())) == {"a": NUMBER}


@pytest.mark.parametrize(
    ("before", "after", "message"),
    [
        ({"ty": "tombstone", "deleted_ty": None}, NUMBER, "was hard-deleted"),
        ({"ty": "tombstone", "deleted_ty": ENUM}, NUMBER, "can only be restored as that type"),
        (ENUM, {"ty": "enum", "values": ["rain"]}, "cannot lose values (sun)"),
        (ENUM, NUMBER, "already defined as an enum"),
        (NUMBER, {"ty": "embedding", "size": 3, "api": None}, "already defined as a number scalar"),
        ({"ty": "embedding", "size": 3, "api": None}, {"ty": "embedding", "size": 4, "api": None}, "size 3"),
        (NUMBER, {"ty": "tombstone", "deleted_ty": ENUM}, "a tombstone must record that type"),
    ],
)
def test_disallowed_changes_are_refused_naming_the_key(admin, before, after, message):
    save_schema(admin, {"k": before})
    with pytest.raises(InvalidArgumentError, match=re.escape(message)) as error:
        save_schema(admin, {"k": after})
    assert error.value.message.startswith("Key 'k' ")
    assert get_schema(admin) == {"k": before}


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (NUMBER, {"ty": "variant", "hint": "varchar"}),  # set_scalar changes a scalar's hint
        (ENUM, {"ty": "enum", "values": ["fog", "rain", "sun"]}),  # add_enum_options
        ({"ty": "tombstone", "deleted_ty": NUMBER}, {"ty": "variant", "hint": "text"}),  # add_scalar on a soft delete
        ({"ty": "tombstone", "deleted_ty": ENUM}, ENUM),  # restore_key
        (ENUM, {"ty": "tombstone", "deleted_ty": None}),  # delete_key(hard=True)
    ],
)
def test_allowed_changes_are_stored_verbatim(admin, before, after):
    save_schema(admin, {"k": before})
    save_schema(admin, {"k": after})
    assert get_schema(admin) == {"k": after}


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"a": {"ty": "float"}},
        {"a": {"ty": "variant", "hint": "float"}},
        {"a": {"ty": "enum", "values": []}},
        {"a": {"ty": "enum", "values": [1]}},
        {"a": {"ty": "embedding", "size": 0}},
        {"a": {"ty": "embedding", "size": 3, "api": {"uri": "x"}}},
        {"a": {"ty": "varchar", "max_length": 9000}},
        {"a": {"ty": "tombstone", "deleted_ty": {"ty": "tombstone", "deleted_ty": None}}},
        {"keyframes": NUMBER},
        {"a/b": NUMBER},
    ],
)
def test_malformed_documents_are_refused(admin, document):
    with pytest.raises(InvalidArgumentError):
        save_schema(admin, document)
    assert not m.MetadataSchema.objects.exists()


def test_legacy_form_reads_live_keys_only(admin):
    save_schema(
        admin,
        {
            "n": NUMBER,
            "u": {"ty": "uuid"},
            "t": {"ty": "variant", "hint": "long_string"},
            "who": {"ty": "user"},
            "gone": {"ty": "tombstone", "deleted_ty": NUMBER},
            "e": ENUM,
            "emb": {"ty": "embedding", "size": 8, "api": None},
            "geo": {"ty": "geospatial"},
        },
    )
    legacy = get_legacy_schema(admin)
    assert legacy.metadata_schema == {
        "n": "number",
        "u": "string",
        "t": "long_string",
        "e": "enum",
        "emb": "embedding",
        "geo": "geospatial",
    }
    assert legacy.organisation_id == 1


def test_legacy_write_refuses_new_embeddings_and_unknown_names(admin):
    with pytest.raises(InvalidArgumentError, match="add_embedding"):
        save_legacy_schema(admin, {"emb": "embedding"})
    with pytest.raises(InvalidArgumentError, match="'float' is not a legacy metadata type"):
        save_legacy_schema(admin, {"x": "float"})
