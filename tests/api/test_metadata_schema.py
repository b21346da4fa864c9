"""The custom-metadata schema (protocol §6, routes #39-#42) through the real encord 0.1.211 SDK."""

from __future__ import annotations

import json
import warnings

import pytest
from encord.exceptions import AuthorisationError, InvalidArgumentsError
from encord.metadata_schema import MetadataSchemaError

from datasets_app import models as m
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin(db):
    return UserFactory(is_org_admin=True)


@pytest.fixture
def member(db):
    return UserFactory()


def stored():
    return m.MetadataSchema.objects.get().document


def test_empty_schema_reads_as_empty(sdk_client, member):
    schema = sdk_client(member).metadata_schema()
    assert schema.keys() == []


def test_admin_saves_scalars_enum_embedding_and_everyone_reads_them(sdk_client, admin, member):
    schema = sdk_client(admin).metadata_schema()
    schema.add_scalar("speed", data_type="number")
    schema.add_scalar("weather note", data_type="string")
    schema.add_scalar("taken.at", data_type="datetime")
    schema.add_enum("weather", values=["sun", "rain"])
    schema.add_embedding("clip", size=512)
    schema.save()

    assert stored() == {
        "speed": {"ty": "variant", "hint": "number"},
        "weather note": {"ty": "variant", "hint": "varchar"},
        "taken.at": {"ty": "variant", "hint": "datetime"},
        "weather": {"ty": "enum", "values": ["rain", "sun"]},
        "clip": {"ty": "embedding", "size": 512, "api": None},
    }
    seen = sdk_client(member).metadata_schema()
    assert seen.get_key_type("speed") == "number"
    assert seen.get_key_type("weather note") == "varchar"
    assert seen.get_enum_options("weather") == ["rain", "sun"]
    assert seen.get_embedding_size("clip") == 512


def test_delete_and_restore_key_round_trip_through_tombstones(sdk_client, admin):
    client = sdk_client(admin)
    schema = client.metadata_schema()
    schema.add_scalar("speed", data_type="number")
    schema.add_enum("weather", values=["sun"])
    schema.save()

    schema = client.metadata_schema()
    schema.delete_key("speed")
    schema.delete_key("weather", hard=True)
    schema.save()
    assert stored()["speed"] == {"ty": "tombstone", "deleted_ty": {"ty": "variant", "hint": "number"}}
    assert stored()["weather"] == {"ty": "tombstone", "deleted_ty": None}

    schema = client.metadata_schema()
    assert schema.is_key_deleted("speed") and schema.get_key_type("speed") is None
    schema.restore_key("speed")
    # the SDK refuses restoring a hard delete locally
    with pytest.raises(MetadataSchemaError):
        schema.restore_key("weather")
    schema.save()
    assert client.metadata_schema().get_key_type("speed") == "number"


def test_member_cannot_save(sdk_client, member):
    schema = sdk_client(member).metadata_schema()
    schema.add_scalar("speed", data_type="number")
    with pytest.raises(AuthorisationError, match="organisation admins"):
        schema.save()
    assert not m.MetadataSchema.objects.exists()


def test_hard_deleted_key_cannot_be_redefined_on_the_wire(raw_client, admin):
    client = raw_client(admin, bearer=True)
    path = "/v2/public/organisation/client-metadata-schema-v2"
    assert client.v2("POST", path, {"x": {"ty": "tombstone", "deleted_ty": None}}).status_code in (200, 204)
    answer = client.v2("POST", path, {"x": {"ty": "variant", "hint": "number"}})
    assert answer.status_code == 400
    assert "'x' was hard-deleted" in answer.json()["message"]
    # the GET answers the stored document verbatim
    assert client.v2("GET", path).json() == {"x": {"ty": "tombstone", "deleted_ty": None}}


def test_malformed_document_is_refused_with_the_key_named(raw_client, admin):
    client = raw_client(admin, bearer=True)
    path = "/v2/public/organisation/client-metadata-schema-v2"
    answer = client.v2("POST", path, {"a": {"ty": "tombstone", "deletedTy": None}})
    assert answer.status_code == 400 and "deletedTy" in answer.json()["message"]
    answer = client.v2("POST", path, {"$bad": {"ty": "variant", "hint": "number"}})
    assert answer.status_code == 400 and "'$bad'" in answer.json()["message"]


def test_legacy_get_and_set_translate_to_the_one_schema(sdk_client, admin, member):
    client = sdk_client(admin)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert client.get_client_metadata_schema() is None
        client.set_client_metadata_schema_from_dict({"speed": "number", "note": "string", "long": "long_string"})
        assert stored() == {
            "speed": {"ty": "variant", "hint": "number"},
            "note": {"ty": "variant", "hint": "varchar"},
            "long": {"ty": "variant", "hint": "text"},
        }
        schema = client.metadata_schema()
        schema.add_enum("weather", values=["rain"])
        schema.delete_key("long")
        schema.save()
        legacy = sdk_client(member).get_client_metadata_schema()
        assert {k: str(v.value) for k, v in legacy.items()} == {
            "speed": "number",
            "note": "string",
            "weather": "enum",
        }
        # set what was read: nothing changes (the enum keeps its values)
        client.set_client_metadata_schema_from_dict({k: v.value for k, v in legacy.items()})
        assert stored()["weather"] == {"ty": "enum", "values": ["rain"]}
        # a new enum cannot be written in the legacy form
        with pytest.raises(InvalidArgumentsError, match="add_enum"):
            client.set_client_metadata_schema_from_dict({"mood": "enum"})
        # a key left out becomes a soft-deleted (restorable) tombstone
        client.set_client_metadata_schema_from_dict({"speed": "number"})
    assert stored()["note"] == {"ty": "tombstone", "deleted_ty": {"ty": "variant", "hint": "varchar"}}
    assert stored()["long"]["ty"] == "tombstone"


def test_legacy_answer_has_every_key_the_sdk_requires(raw_client, member, admin):
    raw_client(admin, bearer=True).v2(
        "POST", "/v2/public/organisation/client-metadata-schema", {"speed": "number"}
    )
    body = raw_client(member, bearer=True).v2("GET", "/v2/public/organisation/client-metadata-schema").json()
    assert set(body) == {"uuid", "metadata_schema", "organisation_id", "created_at", "updated_at"}
    assert body["metadata_schema"] == {"speed": "number"} and body["organisation_id"] == 1
    assert json.dumps(body)
