"""Creates the first organisation admin when there are no users, printing its password once."""

from __future__ import annotations

import secrets

from django.core.management.base import BaseCommand

from datasets_app.sdk import accounts


class Command(BaseCommand):
    help = "Create admin@localhost (org admin) if the database has no users yet; prints the password once."

    def add_arguments(self, parser):
        parser.add_argument("--email", default="admin@localhost")

    def handle(self, *args, email, **options):
        from datasets_app.models import User

        if User.objects.exists():
            return
        password = secrets.token_urlsafe(12)
        accounts.create_user(email, password, org_admin=True)
        line = "=" * 64
        self.stdout.write(f"{line}\nFirst admin created (shown once):\n  e-mail:   {email}\n  password: {password}\n{line}")
