"""Issue 11, item 10: sign-in throttling.

It was keyed on e-mail + REMOTE_ADDR and refused for 15 minutes after 5 failures. Behind a proxy
(or a NAT) every client has the proxy's address, so anyone could lock any account out by typing
five wrong passwords; and an attacker with many addresses was never slowed at all. Now failures
slow the *account* down (a growing wait between attempts, never a lock-out), while a browser that
has signed in to the account before (a signed device cookie) keeps its own count, so an attacker
cannot keep the owner out. These drive the real sign-in view through Django's stack.
"""

from __future__ import annotations

import time

import pytest
from django.test import Client
from django.urls import reverse

from tests.api.conftest import fresh_rate_limits  # noqa: F401  (autouse: sign-in counters live in the cache)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"


@pytest.fixture
def victim():
    user = UserFactory(email="victim@example.com")
    user.set_password(PASSWORD)
    user.save()
    return user


def sign_in(client: Client, email: str, password: str, addr: str = "10.0.0.1"):
    return client.post(reverse("dashboard:login"), {"username": email, "password": password}, REMOTE_ADDR=addr)


def test_attacker_behind_the_same_proxy_cannot_lock_the_owner_out(victim):
    owner = Client()
    assert sign_in(owner, victim.email, PASSWORD).status_code == 302
    owner.post(reverse("dashboard:logout"))
    attacker = Client()
    for _ in range(30):
        sign_in(attacker, victim.email, "guess")  # same address: the proxy's
    response = sign_in(owner, victim.email, PASSWORD)
    assert response.status_code == 302, response.content.decode()[:500]


def test_guessing_is_slowed_per_account_whatever_the_address(victim):
    attacker = Client()
    for i in range(5):
        assert sign_in(attacker, victim.email, "guess", addr=f"198.51.100.{i}").status_code == 200
    # a sixth try at once, from yet another address, is not even checked: the account waits
    response = sign_in(attacker, victim.email, PASSWORD, addr="198.51.100.77")
    assert response.status_code == 429
    assert "Wait" in response.content.decode() and "try again" in response.content.decode()
    assert "_auth_user_id" not in attacker.session
    # the wait grows with every failure after that, and is seconds, not a lock-out
    time.sleep(1.1)
    assert sign_in(attacker, victim.email, "guess", addr="198.51.100.78").status_code == 200
    assert sign_in(attacker, victim.email, PASSWORD, addr="198.51.100.79").status_code == 429
    time.sleep(2.1)
    assert sign_in(Client(), victim.email, PASSWORD, addr="198.51.100.80").status_code == 302


def test_a_device_cookie_for_another_account_does_not_help(victim):
    other = UserFactory(email="other@example.com")
    other.set_password(PASSWORD)
    other.save()
    attacker = Client()
    assert sign_in(attacker, other.email, PASSWORD).status_code == 302  # the attacker's own account
    attacker.post(reverse("dashboard:logout"))
    for _ in range(5):
        sign_in(attacker, victim.email, "guess")
    assert sign_in(attacker, victim.email, "guess").status_code == 429


def test_a_forged_device_cookie_is_ignored(victim):
    attacker = Client()
    attacker.cookies["dd_signin_device"] = "victim@example.com"
    for _ in range(5):
        sign_in(attacker, victim.email, "guess")
    assert sign_in(attacker, victim.email, "guess").status_code == 429
