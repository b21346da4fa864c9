"""Reports hosted files no row points at, and storage items whose hosted file is gone. Exit status 1 when
anything is found (for cron and CI); nothing is changed (sweep_orphan_files deletes orphans)."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand

from datasets_app.media import storage
from datasets_app.sdk import maintenance


class Command(BaseCommand):
    help = "Lists hosted files with no row (orphans) and storage items with no file (missing)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=float,
            default=0.0,
            help="only count orphans last modified more than this many hours ago (default 0: all)",
        )

    def handle(self, *args, older_than, **options):
        orphans = 0
        for key in maintenance.find_orphan_files(older_than=dt.timedelta(hours=older_than)):
            self.stdout.write(f"orphan file (no row): {key}")
            orphans += 1
        missing = 0
        for item_uuid, what, key in storage.missing_files():
            self.stdout.write(f"missing {what} of item {item_uuid}: {key}")
            missing += 1
        self.stdout.write(f"{orphans} orphan file(s), {missing} missing file(s)")
        if orphans or missing:
            raise SystemExit(1)
