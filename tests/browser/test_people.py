"""People management in Chromium, at desktop and phone width: an organisation admin invites
someone from the Users page and copies the one-time link; a fresh browser opens it, sets a
password and is signed in; the used link then says so; the admin deactivates the account (its
session ends), reactivates it, makes a reset link that a fresh browser uses; the admin changes
their own password on the Account page. No console errors in any of the browsers."""

from __future__ import annotations

import re

import pytest

from datasets_app import models as m
from tests.factories import UserFactory

from .conftest import DESKTOP, PASSWORD, PHONE, ConsoleWatch, expect, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "a brand new passphrase"


def fresh_page(browser, live_server, viewport, watches):
    """A page in a new browser context (no cookies: someone else's browser)."""
    context = browser.new_context(viewport=viewport, base_url=live_server.url)
    context.set_default_timeout(20_000)
    page = context.new_page()
    watch = ConsoleWatch()
    watch.attach(page)
    watches.append(watch)
    return page


def set_password(page, password: str) -> None:
    page.fill("#id_new_password1", password)
    page.fill("#id_new_password2", password)
    page.click("button:has-text('Set password and sign in')")
    expect(page).to_have_url(re.compile(r"/datasets$"))


def row(page, email: str):
    return page.locator(f'#users-table tr[data-email="{email}"]')


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_invite_accept_deactivate_reset_and_change_password(page, shoot, browser, live_server, viewport):
    tag = "desktop" if viewport == DESKTOP else "phone"
    watches: list[ConsoleWatch] = []

    def snap(on_page, name: str) -> None:
        # Screenshots (desktop and phone, no page wider than the phone) once, from the desktop run.
        if viewport == DESKTOP:
            shoot(on_page, name)
        on_page.set_viewport_size(viewport)

    admin = UserFactory(email="admin@example.com", is_org_admin=True)
    page.set_viewport_size(viewport)
    sign_in(page, admin)

    # The admin invites someone and copies the link, shown once.
    if viewport == DESKTOP:
        page.click("nav.mainnav >> text=Users")
    else:
        page.goto("/users")
    expect(page.locator("h1")).to_have_text("Users")
    page.fill("#id_email", f"ann-{tag}@example.com")
    page.fill("#id_name", "Ann Example")
    page.click("button:has-text('Invite')")
    link_box = page.locator("#one-time-url")
    expect(link_box).to_be_visible()
    page.click("#one-time-link button[data-copy]")
    expect(page.locator("#one-time-link button[data-copy]")).to_have_text(re.compile("Copied|Press Ctrl\\+C"))
    url = link_box.input_value()
    assert "/invitation/" in url
    expect(row(page, f"ann-{tag}@example.com")).to_contain_text("Invited")
    snap(page, "people-users-invited")

    # Someone else's browser opens it, sets a password, is signed in.
    invitee = fresh_page(browser, live_server, viewport, watches)
    invitee.goto(url)
    expect(invitee.locator("h1")).to_have_text("Welcome")
    snap(invitee, "people-accept")
    set_password(invitee, NEW_PASSWORD)
    expect(invitee.locator(".messages")).to_contain_text("your account is ready")
    assert m.User.objects.get(email=f"ann-{tag}@example.com").is_active

    # The same link, again, says it was used.
    again = fresh_page(browser, live_server, viewport, watches)
    again.goto(url)
    expect(again.locator("h1")).to_have_text("Invitation already used")
    snap(again, "people-link-used")

    # The admin deactivates the account: its session ends.
    page.goto("/users")
    row(page, f"ann-{tag}@example.com").locator("text=Deactivate…").click()
    expect(page.locator("h2")).to_contain_text(f"Deactivate ann-{tag}@example.com?")
    snap(page, "people-deactivate-confirm")
    page.click("button:has-text('Deactivate')")
    expect(row(page, f"ann-{tag}@example.com")).to_contain_text("Deactivated")
    invitee.goto("/datasets")
    expect(invitee).to_have_url(re.compile(r"/login"))

    # Reactivated, then a reset link, used in a fresh browser.
    row(page, f"ann-{tag}@example.com").locator("button:has-text('Reactivate')").click()
    expect(row(page, f"ann-{tag}@example.com")).to_contain_text("Active")
    row(page, f"ann-{tag}@example.com").locator("button:has-text('Reset link')").click()
    reset_url = page.locator("#one-time-url").input_value()
    assert "/password/reset/" in reset_url
    snap(page, "people-reset-link")
    resetter = fresh_page(browser, live_server, viewport, watches)
    resetter.goto(reset_url)
    expect(resetter.locator("h1")).to_have_text("Choose a new password")
    set_password(resetter, "another fine passphrase")
    assert m.User.objects.get(email=f"ann-{tag}@example.com").check_password("another fine passphrase")

    # The admin changes their own password and stays signed in.
    page.goto("/account")
    page.fill("#id_old_password", PASSWORD)
    page.fill("#id_new_password1", NEW_PASSWORD)
    page.fill("#id_new_password2", NEW_PASSWORD)
    page.click("button:has-text('Change password')")
    expect(page.locator(".messages")).to_contain_text("Password changed")
    snap(page, "people-password-changed")
    assert m.User.objects.get(pk=admin.pk).check_password(NEW_PASSWORD)

    for other in (invitee, again, resetter):
        other.context.close()
    errors = [e for w in watches for e in w.errors]
    assert not errors, "browser console errors:\n" + "\n".join(errors)
