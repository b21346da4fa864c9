"""Management commands used by the README and scripts: add_user, create_first_admin."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.core.management import CommandError, call_command

from datasets_app import models as m

pytestmark = pytest.mark.django_db

VECTOR_LINE = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4 test@vector"
VECTOR_HEX = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_add_user_with_public_key_and_org_admin(tmp_path):
    pub = tmp_path / "id.pub"
    pub.write_text(VECTOR_LINE + "\n")
    out = run("add_user", "dev@example.com", "--org-admin", "--public-key", str(pub), "--password", "pw-long-enough")
    user = m.User.objects.get(email="dev@example.com")
    assert user.is_org_admin and user.check_password("pw-long-enough")
    key = user.public_keys.get()
    assert key.key_hex == VECTOR_HEX and key.fingerprint.startswith("SHA256:")
    assert "Registered public key" in out and "Password" not in out


def test_add_user_generates_and_prints_password_once():
    out = run("add_user", "gen@example.com")
    password = out.split("Password (shown once): ")[1].strip()
    assert m.User.objects.get(email="gen@example.com").check_password(password)


def test_add_user_rejects_duplicates_bad_keys_and_leaves_nothing(tmp_path):
    run("add_user", "dup@example.com", "--no-password")
    with pytest.raises(CommandError, match="already exists"):
        run("add_user", "DUP@example.com")
    rsa = tmp_path / "rsa.pub"
    rsa.write_text("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ== x")
    with pytest.raises(CommandError, match="Ed25519"):
        run("add_user", "rsa@example.com", "--public-key", str(rsa))
    assert not m.User.objects.filter(email="rsa@example.com").exists()
    with pytest.raises(CommandError, match="Cannot read"):
        run("add_user", "nofile@example.com", "--public-key", str(tmp_path / "missing.pub"))
    assert not m.User.objects.filter(email="nofile@example.com").exists()
    with pytest.raises(CommandError):
        run("add_user", "not-an-email")


def test_same_public_key_cannot_belong_to_two_users(tmp_path):
    pub = tmp_path / "id.pub"
    key = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH)
    pub.write_bytes(key)
    run("add_user", "one@example.com", "--public-key", str(pub))
    with pytest.raises(CommandError, match="already registered"):
        run("add_user", "two@example.com", "--public-key", str(pub))
    assert not m.User.objects.filter(email="two@example.com").exists()


def test_add_user_if_missing_is_idempotent():
    run("add_user", "x@example.com", "--no-password", "--if-missing")
    assert "already exists" in run("add_user", "x@example.com", "--no-password", "--if-missing")
    assert m.User.objects.filter(email="x@example.com").count() == 1


def test_create_first_admin_only_on_empty_database():
    out = run("create_first_admin")
    password = out.split("password: ")[1].split()[0]
    admin = m.User.objects.get()
    assert admin.is_org_admin and admin.check_password(password)
    assert run("create_first_admin") == ""
    assert m.User.objects.count() == 1
