"""List (and with --delete remove) hosted files no row, member, upload slot or re-encode points at."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand

from datasets_app.sdk import maintenance


class Command(BaseCommand):
    help = "Finds stored files nothing references (older than --older-than hours); --delete removes them."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=float, default=None, help="hours (default: beat's margin)")
        parser.add_argument("--delete", action="store_true")

    def handle(self, *args, older_than, delete, **options):
        age = dt.timedelta(hours=older_than) if older_than is not None else None
        keys = maintenance.sweep_orphan_files(older_than=age, dry_run=not delete)
        for key in keys:
            self.stdout.write(key)
        self.stdout.write(f"{len(keys)} orphan file(s){' deleted' if delete and keys else ''}")
