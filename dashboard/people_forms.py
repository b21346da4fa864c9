"""Forms of the people pages (Users, invitations, reset links, password change) and the guard that
makes a wrong current password on the Account page count like a failed sign-in."""

from __future__ import annotations

import time

from django import forms
from django.core.cache import cache

from dashboard.forms import LOGIN_FAILURE_WINDOW_SECONDS, login_throttle_key, wait_seconds


class InviteForm(forms.Form):
    email = forms.EmailField(label="E-mail", max_length=254)
    name = forms.CharField(label="Name (optional)", max_length=150, required=False)
    org_admin = forms.BooleanField(label="Organisation admin", required=False)


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(
        label="Current password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    new_password1 = forms.CharField(
        label="New password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters, not a common password.",
    )
    new_password2 = forms.CharField(
        label="New password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        if (
            data.get("new_password1")
            and data.get("new_password2")
            and data["new_password1"] != data["new_password2"]
        ):
            self.add_error("new_password2", "The two new passwords differ.")
        return data


def password_guess_wait(email: str) -> int:
    """Seconds before `email`'s current password may be tried again: the sign-in throttle's
    account-wide count (dashboard/forms.py), so the Account page gives no extra guesses."""
    record = cache.get(login_throttle_key(email)) or {"n": 0, "t": 0.0}
    return max(0, int(record["t"] + wait_seconds(record["n"]) - time.time() + 0.999))


def record_password_guess(email: str, *, failed: bool) -> None:
    key = login_throttle_key(email)
    if not failed:
        cache.delete(key)
        return
    record = cache.get(key) or {"n": 0, "t": 0.0}
    cache.set(key, {"n": record["n"] + 1, "t": time.time()}, LOGIN_FAILURE_WINDOW_SECONDS)
