"""SDK additions the dashboard relies on: Dataset.require(op) and accounts.generate_key_pair."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_ssh_private_key

from datasets_app.sdk import UserClient, accounts
from datasets_app.sdk.exceptions import AuthorisationError
from datasets_app.sdk.policy import Op


def test_require_raises_the_policy_error(dataset, ds_user, ds_admin):
    as_user = UserClient.for_user(ds_user).get_dataset(str(dataset.dataset_hash))
    as_user.require(Op.WRITE_DATA)
    with pytest.raises(AuthorisationError):
        as_user.require(Op.MANAGE)
    UserClient.for_user(ds_admin).get_dataset(str(dataset.dataset_hash)).require(Op.MANAGE)


def test_generate_key_pair_registers_the_public_half(stranger):
    pem, key = accounts.generate_key_pair(stranger, "ci")
    private = load_ssh_private_key(pem.encode(), password=None)
    assert private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex() == key.key_hex
    assert key.user == stranger and key.title == "ci" and key.openssh.startswith("ssh-ed25519 ")
    assert "PRIVATE" not in key.openssh
