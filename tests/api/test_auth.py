"""Signature checks against the protocol's test vectors (§3.5, A.3) and their negatives."""

from __future__ import annotations

import hashlib

import pytest
from django.test import RequestFactory

from datasets_app.api import auth
from datasets_app.sdk import accounts
from datasets_app.sdk.exceptions import AuthenticationError, AuthorisationError, PayloadTooLargeError
from tests.factories import UserFactory

DUMMY_HEX = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
DUMMY_OPENSSH = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"
CREATED = 1700000000
SIG_INPUT = (
    'encord-sig=("@method" "@request-target" "content-digest");created=1700000000;'
    f'keyid="{DUMMY_HEX}";alg="ed25519"'
)
EMPTY_DIGEST = "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"
GET_TARGET = "/v2/public/datasets/list?titleLike=%25cars%25&includeOrgAccess=False"
GET_SIGNATURE = (
    "encord-sig=:iIljUdLgxAwNqSvuLHUXJDXIcIYzDjWbAOw0O3J09XdNMz3pAGKfbyz/tyvKl2Zqg4G8KUBqLxApjqwZ2w4JDA==:"
)
POST_BODY = b'{"title": "My ds", "description": "desc", "createBackingFolder": true, "legacyCall": false}'
POST_DIGEST = "sha-256=:4hQWKLDUdjVjX7UukmJfRODOn9V+1Midtat4zyzFegU=:"
POST_SIGNATURE = (
    "encord-sig=:Bye86XD9SYAWuNsC1h97vT9SSdTVBQombWJMIJN1DECeFuwfyGq2tcS9C//KYMmB4jYX37A64s6L4Xllnc1yDg==:"
)
V1_BODY = (
    b'{"query_type": "dataset", "query_method": "GET", "values": {"uid": null, "payload": '
    b'{"dataset_access_settings": {"fetch_client_metadata": false, "fetch_rows": true}}}}'
)
V1_AUTH = (
    f"{DUMMY_HEX}:8450abfa9955b569ce608b8d4ca99251f60cbb1738076acc81aec0eb65d21f58a3b5d787e3c8eae807761c36c3eb"
    "f335e220b8f08388d8304713a6e2a3750505"
)
V145_BODY = (
    b'{"query_type": "dataset", "query_method": "GET", "values": {"uid": null, "payload": '
    b'{"dataset_access_settings": {"fetch_client_metadata": false}}}}'
)
V145_AUTH = (
    f"{DUMMY_HEX}:76a182ed2499c2676d0ee57ed5e444de50c68dc9327352d11aa3a558fe86df9522041b68f7de359e1739e854771"
    "05d4d7e5a419959ad823c48f16f3c78fa5e0a"
)

rf = RequestFactory()


@pytest.fixture
def dummy_user(db):
    user = UserFactory()
    accounts.add_public_key(user, DUMMY_OPENSSH + " dummy")
    return user


def v2_get(**headers):
    base = {
        "HTTP_CONTENT_DIGEST": EMPTY_DIGEST,
        "HTTP_SIGNATURE_INPUT": SIG_INPUT,
        "HTTP_SIGNATURE": GET_SIGNATURE,
    }
    base.update(headers)
    return rf.get(GET_TARGET, **{k: v for k, v in base.items() if v is not None})


def v2_post(body=POST_BODY, path="/v2/public/datasets", **headers):
    base = {
        "HTTP_CONTENT_DIGEST": POST_DIGEST,
        "HTTP_SIGNATURE_INPUT": SIG_INPUT,
        "HTTP_SIGNATURE": POST_SIGNATURE,
    }
    base.update(headers)
    return rf.post(path, data=body, content_type="application/json", **base)


def v1_post(body=V1_BODY, authorization=V1_AUTH, resource_id="11111111-1111-4111-8111-111111111111"):
    return rf.post(
        "/public",
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=authorization,
        HTTP_RESOURCEID=resource_id,
        HTTP_RESOURCETYPE="dataset",
    )


def test_v1_vector_digest_matches_protocol():
    assert (
        hashlib.sha256(V1_BODY).hexdigest()
        == "077d3ae7a55d587fb60fd3b250414bfdaac6a908f6954514997da9526c634670"
    )
    assert (
        hashlib.sha256(V145_BODY).hexdigest()
        == "c9afc67088e5406d3d17dee7471beb57db527161df3f1a470b7bb425bb69b730"
    )


@pytest.mark.parametrize("body,authorization", [(V1_BODY, V1_AUTH), (V145_BODY, V145_AUTH)])
def test_v1_vectors_verify_to_the_key_owner(dummy_user, body, authorization):
    request = v1_post(body, authorization)
    assert auth.authenticate_v1(request, request.body, endpoint="public").user == dummy_user
    assert auth.authenticate_v1(request, request.body, endpoint="user").user == dummy_user


def test_v1_upper_case_hex_is_accepted(dummy_user):
    request = v1_post(authorization=V1_AUTH.upper())
    assert auth.authenticate_v1(request, request.body, endpoint="public").user == dummy_user


def test_v1_signature_over_body_instead_of_digest_is_refused(dummy_user):
    # The vector's signature is over sha256(body); check the verifier does not accept it over the body.
    sig = bytes.fromhex(V1_AUTH.split(":")[1])
    assert not auth.verify_ed25519(DUMMY_HEX, sig, V1_BODY)
    assert auth.verify_ed25519(DUMMY_HEX, sig, hashlib.sha256(V1_BODY).digest())


def test_v1_changed_body_is_refused(dummy_user):
    request = v1_post(body=V1_BODY.replace(b"false", b"true "))
    with pytest.raises(AuthenticationError, match="does not verify"):
        auth.authenticate_v1(request, request.body, endpoint="public")


def test_v1_unknown_key_is_refused(db):
    request = v1_post()
    with pytest.raises(AuthenticationError, match="No user has this public key"):
        auth.authenticate_v1(request, request.body, endpoint="public")


def test_v1_inactive_user_is_refused(dummy_user):
    dummy_user.is_active = False
    dummy_user.save()
    request = v1_post()
    with pytest.raises(AuthenticationError):
        auth.authenticate_v1(request, request.body, endpoint="public")


def test_v1_missing_header_is_refused(db):
    request = rf.post("/public", data=V1_BODY, content_type="application/json")
    with pytest.raises(AuthenticationError, match="Missing Authorization"):
        auth.authenticate_v1(request, request.body, endpoint="public")


def test_api_key_is_refused_on_public_user(rw_key):
    request = v1_post(authorization=rw_key.secret, resource_id="")
    with pytest.raises(AuthenticationError, match="only work on dataset requests"):
        auth.authenticate_v1(request, request.body, endpoint="user")


def test_api_key_needs_its_own_dataset_as_resource_id(rw_key, dataset):
    good = v1_post(authorization=rw_key.secret, resource_id=str(dataset.dataset_hash).upper())
    assert auth.authenticate_v1(good, good.body, endpoint="public").api_key == rw_key.model
    for other in ("11111111-1111-4111-8111-111111111111", "", "not-a-uuid"):
        request = v1_post(authorization=rw_key.secret, resource_id=other)
        with pytest.raises(AuthorisationError):
            auth.authenticate_v1(request, request.body, endpoint="public")


def test_unknown_api_key_is_refused(db):
    request = v1_post(authorization="not-a-real-key")
    with pytest.raises(AuthenticationError, match="Unknown or revoked"):
        auth.authenticate_v1(request, request.body, endpoint="public")


def test_v2_get_vector_verifies(dummy_user):
    request = v2_get()
    assert auth.authenticate_v2(request, b"", now=CREATED + 5).user == dummy_user


def test_v2_post_vector_verifies(dummy_user):
    request = v2_post()
    assert auth.authenticate_v2(request, request.body, now=CREATED).user == dummy_user


def test_v2_sdk_0145_backdated_created_is_inside_the_window(dummy_user, settings):
    # 0.1.145 dates `created` 30 s back; SDK retries re-send the same signature for ~20 s more.
    assert auth.authenticate_v2(v2_get(), b"", now=CREATED + 30 + 20).user == dummy_user


@pytest.mark.parametrize(
    "now,message",
    [(CREATED + 601, "ago"), (CREATED - 301, "future")],
    ids=["stale", "future"],
)
def test_v2_created_outside_the_window_is_refused(dummy_user, settings, now, message):
    settings.API_SIGNATURE_MAX_AGE_SECONDS = 600
    settings.API_SIGNATURE_MAX_SKEW_SECONDS = 300
    with pytest.raises(AuthenticationError, match=message):
        auth.authenticate_v2(v2_get(), b"", now=now)


def test_v2_wrong_target_is_refused(dummy_user):
    request = rf.get(
        "/v2/public/datasets/list?titleLike=%25bikes%25&includeOrgAccess=False",
        HTTP_CONTENT_DIGEST=EMPTY_DIGEST,
        HTTP_SIGNATURE_INPUT=SIG_INPUT,
        HTTP_SIGNATURE=GET_SIGNATURE,
    )
    with pytest.raises(AuthenticationError, match="does not verify"):
        auth.authenticate_v2(request, b"", now=CREATED)


def test_v2_wrong_method_is_refused(dummy_user):
    request = rf.delete(
        GET_TARGET,
        HTTP_CONTENT_DIGEST=EMPTY_DIGEST,
        HTTP_SIGNATURE_INPUT=SIG_INPUT,
        HTTP_SIGNATURE=GET_SIGNATURE,
    )
    with pytest.raises(AuthenticationError, match="does not verify"):
        auth.authenticate_v2(request, b"", now=CREATED)


def test_v2_body_not_matching_digest_is_refused(dummy_user):
    request = v2_post(body=POST_BODY.replace(b"My ds", b"My DS"))
    with pytest.raises(AuthenticationError, match="Content-Digest"):
        auth.authenticate_v2(request, request.body, now=CREATED)


def test_v2_signature_over_other_request_is_refused(dummy_user):
    request = v2_post(HTTP_SIGNATURE=GET_SIGNATURE)
    with pytest.raises(AuthenticationError, match="does not verify"):
        auth.authenticate_v2(request, request.body, now=CREATED)


def test_v2_unknown_key_is_refused(db):
    with pytest.raises(AuthenticationError, match="No user has this public key"):
        auth.authenticate_v2(v2_get(), b"", now=CREATED)


@pytest.mark.parametrize("missing", ["HTTP_CONTENT_DIGEST", "HTTP_SIGNATURE_INPUT", "HTTP_SIGNATURE"])
def test_v2_missing_header_is_refused(dummy_user, missing):
    with pytest.raises(AuthenticationError, match="Missing"):
        auth.authenticate_v2(v2_get(**{missing: None}), b"", now=CREATED)


@pytest.mark.parametrize(
    "signature_input",
    [
        SIG_INPUT.replace("encord-sig=", "other-sig="),
        SIG_INPUT.replace(' "content-digest"', ""),
        SIG_INPUT.replace('alg="ed25519"', 'alg="rsa"'),
        SIG_INPUT.replace("created=1700000000", "created=abc"),
        SIG_INPUT.replace(f'keyid="{DUMMY_HEX}"', "keyid=zz"),
        SIG_INPUT + ";nonce=1",
    ],
    ids=["label", "covered", "alg", "created", "keyid", "extra-param"],
)
def test_v2_malformed_signature_input_is_refused(dummy_user, signature_input):
    with pytest.raises(AuthenticationError):
        auth.authenticate_v2(v2_get(HTTP_SIGNATURE_INPUT=signature_input), b"", now=CREATED)


def test_v2_garbage_signature_is_refused(dummy_user):
    for value in ("encord-sig=:!!!:", "encord-sig=:QUJD:", "nonsense"):
        with pytest.raises(AuthenticationError):
            auth.authenticate_v2(v2_get(HTTP_SIGNATURE=value), b"", now=CREATED)


def test_bearer_token_round_trip(dummy_user):
    token = accounts.issue_bearer_token(dummy_user)
    request = rf.get("/v2/public/datasets/list", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert auth.authenticate_v2(request, b"").user == dummy_user
    v1 = v1_post(authorization=f"Bearer {token}")
    assert auth.authenticate_v1(v1, v1.body, endpoint="user").user == dummy_user
    from datasets_app import models as m

    assert not m.BearerToken.objects.filter(token_digest=token).exists()  # stored hashed


def test_expired_or_unknown_bearer_token_is_refused(dummy_user):
    import datetime as dt

    from datasets_app import models as m

    token = accounts.issue_bearer_token(dummy_user)
    m.BearerToken.objects.update(expires_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    for value in (token, "nope"):
        request = rf.get("/v2/public/datasets/list", HTTP_AUTHORIZATION=f"Bearer {value}")
        with pytest.raises(AuthenticationError, match="bearer token"):
            auth.authenticate_v2(request, b"")


def test_body_over_the_limit_is_refused_before_reading(settings):
    settings.API_MAX_BODY_BYTES = 10
    request = rf.post("/public", data=b"x" * 11, content_type="application/json")
    with pytest.raises(PayloadTooLargeError):
        auth.read_body(request)


def test_rate_limit_counts_per_identity(dummy_user, settings):
    from datasets_app.sdk import Principal
    from datasets_app.sdk.exceptions import RateLimitExceededError

    settings.API_RATE_LIMIT_PER_MINUTE = 2
    me, other = Principal(user=dummy_user), Principal(user=UserFactory())
    now = 1_800_000_010.0
    auth.throttle(me, now=now)
    auth.throttle(me, now=now)
    auth.throttle(other, now=now)
    with pytest.raises(RateLimitExceededError) as info:
        auth.throttle(me, now=now)
    assert info.value.fields["retry_after"] == 50
    auth.throttle(me, now=now + 60)  # next window
