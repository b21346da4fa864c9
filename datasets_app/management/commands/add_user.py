"""python manage.py add_user EMAIL [--password P] [--org-admin] [--public-key PATH]"""

from __future__ import annotations

import secrets
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from datasets_app.sdk import accounts
from datasets_app.sdk.exceptions import DatasetsError


class Command(BaseCommand):
    help = "Create a user without prompts, optionally with an OpenSSH Ed25519 public key."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--password", help="password for the dashboard; omitted: generated and printed")
        parser.add_argument("--no-password", action="store_true", help="SDK-only user: no dashboard sign-in")
        parser.add_argument("--org-admin", action="store_true", help="sees every dataset, manages integrations")
        parser.add_argument("--public-key", type=Path, help="path to an OpenSSH ed25519 public key (.pub)")
        parser.add_argument("--if-missing", action="store_true", help="do nothing when the user already exists")

    def handle(self, *args, email, password, no_password, org_admin, public_key, if_missing, **options):
        from datasets_app.models import User

        if if_missing and User.objects.filter(email__iexact=email).exists():
            self.stdout.write(f"User {email} already exists.")
            return
        generated = None
        if password is None and not no_password:
            password = generated = secrets.token_urlsafe(12)
        try:
            with transaction.atomic():
                user = accounts.create_user(email, None if no_password else password, org_admin=org_admin)
                if public_key is not None:
                    try:
                        line = public_key.read_text()
                    except OSError as exc:
                        raise CommandError(f"Cannot read {public_key}: {exc}") from None
                    key = accounts.add_public_key(user, line)
        except DatasetsError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Created user {user.email}{' (organisation admin)' if org_admin else ''}.")
        if public_key is not None:
            self.stdout.write(f"Registered public key {key.fingerprint}.")
        if generated:
            self.stdout.write(f"Password (shown once): {generated}")
