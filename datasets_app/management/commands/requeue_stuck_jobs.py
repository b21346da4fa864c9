"""Queue again the jobs whose rows stopped moving (what beat does every 5 minutes), e.g. right after
restoring a broker that lost its messages: `manage.py requeue_stuck_jobs --stuck-after 0`."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand

from datasets_app.sdk import maintenance


class Command(BaseCommand):
    help = "Re-queue data jobs / re-encode tasks not terminal and unchanged for --stuck-after seconds."

    def add_arguments(self, parser):
        parser.add_argument(
            "--stuck-after", type=int, default=None,
            help="seconds since the job row last moved (default JOB_STUCK_AFTER_SECONDS)",
        )

    def handle(self, *args, stuck_after, **options):
        delta = dt.timedelta(seconds=stuck_after) if stuck_after is not None else None
        n = maintenance.requeue_stuck_jobs(stuck_after=delta)
        self.stdout.write(f"re-queued {n} job(s)")
