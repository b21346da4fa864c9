"""Private-cloud data, the lowest room: cloud integrations (create / find / delete) and reading one
object of an integration (a signed link for a client, a ranged reader for a worker).

The import itself is elsewhere: the document's parsing in sdk/private_manifest.py, the job's start
and runner in sdk/private_import.py, the probes in sdk/private_probes.py. This module imports none
of them, so the re-encoders (sdk/sequence_videos.py) read private objects without a cycle."""

from __future__ import annotations

import io
import json
from typing import Any

from datasets_app import crypto
from datasets_app import models as m
from datasets_app.media import cloud, private_links

from .exceptions import DatasetsError, InvalidArgumentError, ResourceNotFoundError
from .policy import Principal, manageable_integrations, parse_hash, usable_integrations


class PrivateDataError(DatasetsError):
    """One unit of a private-data import failed (unreachable, 404, refused address, not media...)."""

    code = "PRIVATE_DATA_ERROR"
    default_message = "The object could not be read through the integration."


# ---- integrations (SDK layer: create / list / delete) --------------------------------------------


def integration_create(
    *,
    owner: m.User,
    title: str,
    provider: str,
    config: dict[str, Any] | None = None,
    credentials: dict[str, Any] | None = None,
    allow_private_network: bool = False,
) -> m.CloudIntegration:
    """A new integration; secrets are encrypted at rest and never returned. One query."""
    from .validation import clean_title

    title = clean_title(title, "integration title")
    if provider not in m.IntegrationProvider.values:
        raise InvalidArgumentError(
            f"Unknown provider {provider!r}: use one of {', '.join(m.IntegrationProvider.values)}.",
            field="provider",
        )
    config = {k: v for k, v in (config or {}).items() if v not in (None, "")}
    credentials = {k: v for k, v in (credentials or {}).items() if v not in (None, "")}
    for name, value in (("config", config), ("credentials", credentials)):
        if not all(isinstance(k, str) for k in value) or len(json.dumps(value)) > 64 * 1024:
            raise InvalidArgumentError(f"The integration's {name} must be a small JSON object.", field=name)
    if endpoint := config.get("endpoint_url"):
        if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
            raise InvalidArgumentError("endpoint_url must be an http(s) URL.", field="endpoint_url")
        config["endpoint_url"] = endpoint.rstrip("/")
    if provider == m.IntegrationProvider.AZURE and not (config.get("account") or config.get("endpoint_url")):
        raise InvalidArgumentError(
            "An Azure integration needs an account name or an endpoint URL.", field="account"
        )
    return m.CloudIntegration.objects.create(
        owner=owner,
        title=title,
        provider=provider,
        config=config,
        credentials_encrypted=crypto.encrypt(json.dumps(credentials)) if credentials else "",
        allow_private_network=bool(allow_private_network),
    )


def integration_for(principal: Principal, integration_id: Any, usable=None) -> m.CloudIntegration:
    """The integration if this principal may use it (policy.usable_integrations: its owner, any for
    an organisation admin; for a dataset API key only its creator's own, while the creator may
    still import into the key's dataset), or among `usable` when given. Anything else:
    ResourceNotFoundError, word for word what a missing integration gives. One or two queries."""
    integration_uuid = parse_hash(integration_id, "integration id")
    if usable is None:
        usable = usable_integrations(principal, include_org_access=True)
    integration = usable.filter(integration_uuid=integration_uuid).first()
    if integration is None:
        raise ResourceNotFoundError(
            f"Cloud integration {integration_uuid} not found.", integration_id=str(integration_uuid)
        )
    return integration


def integration_delete(principal: Principal, integration_id: Any) -> None:
    """Deletes an integration its owner (or an organisation admin) may use. Rows that still point
    at it keep it alive: OperationNotAllowed-like InvalidArgumentError names how many."""
    from django.db.models import ProtectedError

    integration = integration_for(principal, integration_id, usable=manageable_integrations(principal))
    try:
        integration.delete()
    except ProtectedError as exc:
        raise InvalidArgumentError(
            f"The integration is still used by {len(exc.protected_objects)} data item(s); delete them first.",
            field="integration_id",
        ) from None


# ---- signed URLs for browsers and re-encodes ---------------------------------------------------------


def private_signed_url(
    url: str,
    integration: m.CloudIntegration,
    *,
    lifetime_seconds: int | None = None,
    base_url: str | None = None,
    filename: str = "",
) -> str:
    """A time-limited download URL for an object of this integration that holds none of its
    stored secrets (media/private_links.py): the provider's own one-object, read-only URL where it
    can sign one, else our signed /media/private route. No request is sent to the provider."""
    try:
        cloud.adapter_for(integration).parse(url)
    except cloud.CloudError as exc:
        raise PrivateDataError(str(exc)) from None
    return private_links.link_for(
        url, integration, base_url=base_url, lifetime_seconds=lifetime_seconds, filename=filename
    )


def read_private_object(url: str, integration: m.CloudIntegration) -> io.RawIOBase:
    """A seekable, ranged reader over one object (nothing is downloaded up front)."""
    adapter = cloud.adapter_for(integration)
    try:
        return adapter.open(adapter.parse(url))
    except cloud.CloudError as exc:
        raise PrivateDataError(str(exc)) from None

