"""python manage.py deactivate_user EMAIL: the account stops working and its bearer tokens are revoked."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from datasets_app.sdk import accounts
from datasets_app.sdk.exceptions import DatasetsError


class Command(BaseCommand):
    help = (
        "Deactivate a user: no sign-in, no signed SDK requests, and every bearer token revoked "
        "(they stay revoked if the account is activated again)."
    )

    def add_arguments(self, parser):
        parser.add_argument("email")

    def handle(self, *args, email, **options):
        try:
            user = accounts.user_by_email(email)
            live = len(accounts.live_bearer_tokens(user))
            accounts.deactivate_user(user)
        except DatasetsError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Deactivated {user.email}; revoked {live} live bearer token(s).")
