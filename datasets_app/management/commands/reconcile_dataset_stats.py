"""Recount every dataset's rows by type and bytes and fix counters that drifted (what beat does
every 6 hours), e.g. after rows were written by hand: `manage.py reconcile_dataset_stats`."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from datasets_app.sdk import dataset_stats


class Command(BaseCommand):
    help = "Recount each dataset's rows and bytes; fix the stats rows that drifted."

    def handle(self, *args, **options):
        n = dataset_stats.reconcile()
        self.stdout.write(f"{n} fixed")
