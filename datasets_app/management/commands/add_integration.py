"""python manage.py add_integration --title T --provider {s3,gcs,azure,https} [--endpoint-url URL]
[--region R] [--access-key-id K] [--secret-access-key S] [--allow-private-network] --owner EMAIL

Registers a cloud integration without prompts and prints its id on the last line. Secrets may come
from the environment instead of the command line (which other users can see in `ps`):
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN (s3), AZURE_STORAGE_KEY or
AZURE_STORAGE_SAS_TOKEN (azure), GOOGLE_APPLICATION_CREDENTIALS = a service-account key file (gcs),
HTTPS_BEARER_TOKEN (https)."""

from __future__ import annotations

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from datasets_app.sdk.exceptions import DatasetsError


class Command(BaseCommand):
    help = "Register a cloud integration (S3/S3-compatible, GCS, Azure Blob or HTTPS) for a user."

    def add_arguments(self, parser):
        parser.add_argument("--title", required=True)
        parser.add_argument("--provider", required=True, choices=["s3", "gcs", "azure", "https"])
        parser.add_argument("--owner", required=True, help="e-mail of the user who may use it")
        parser.add_argument(
            "--endpoint-url", help="S3-compatible endpoint, GCS/Azure endpoint, or HTTPS base URL"
        )
        parser.add_argument("--region", help="S3 region (default us-east-1)")
        parser.add_argument("--access-key-id", help="S3 access key id (or AWS_ACCESS_KEY_ID)")
        parser.add_argument("--secret-access-key", help="S3 secret (or AWS_SECRET_ACCESS_KEY)")
        parser.add_argument("--account", help="Azure storage account name")
        parser.add_argument("--account-key", help="Azure account key (or AZURE_STORAGE_KEY)")
        parser.add_argument("--sas-token", help="Azure SAS token (or AZURE_STORAGE_SAS_TOKEN)")
        parser.add_argument("--service-account-file", type=Path, help="GCS service-account JSON key file")
        parser.add_argument("--project", help="GCS project id")
        parser.add_argument("--bearer-token", help="HTTPS: token sent to URLs under --endpoint-url")
        parser.add_argument(
            "--allow-private-network",
            action="store_true",
            help="let this integration reach loopback/private addresses (MinIO on a LAN, local tests)",
        )

    def handle(self, *args, **o):
        from datasets_app.models import User
        from datasets_app.sdk.private_data import integration_create

        owner = User.objects.filter(email__iexact=o["owner"]).first()
        if owner is None:
            raise CommandError(f"No user {o['owner']}: create it first with add_user.")
        env = os.environ.get
        provider = o["provider"]
        config = {
            "endpoint_url": o["endpoint_url"],
            "region": o["region"],
            "account": o["account"],
            "project": o["project"],
        }
        credentials: dict = {}
        if provider == "s3":
            credentials = {
                "access_key_id": o["access_key_id"] or env("AWS_ACCESS_KEY_ID"),
                "secret_access_key": o["secret_access_key"] or env("AWS_SECRET_ACCESS_KEY"),
                "session_token": env("AWS_SESSION_TOKEN"),
            }
        elif provider == "azure":
            credentials = {
                "account_key": o["account_key"] or env("AZURE_STORAGE_KEY"),
                "sas_token": o["sas_token"] or env("AZURE_STORAGE_SAS_TOKEN"),
            }
        elif provider == "gcs":
            path = o["service_account_file"] or (
                Path(env("GOOGLE_APPLICATION_CREDENTIALS")) if env("GOOGLE_APPLICATION_CREDENTIALS") else None
            )
            if path is not None:
                try:
                    credentials = {"service_account_json": path.read_text()}
                except OSError as exc:
                    raise CommandError(f"Cannot read {path}: {exc}") from None
        elif provider == "https":
            credentials = {"bearer_token": o["bearer_token"] or env("HTTPS_BEARER_TOKEN")}
        try:
            integration = integration_create(
                owner=owner,
                title=o["title"],
                provider=provider,
                config=config,
                credentials=credentials,
                allow_private_network=o["allow_private_network"],
            )
        except DatasetsError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Added {provider} integration {integration.title!r} for {owner.email}.")
        self.stdout.write(str(integration.integration_uuid))
