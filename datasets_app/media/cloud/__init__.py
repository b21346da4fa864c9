"""Read access to media that stays in a customer's bucket, one adapter per provider.

`adapter_for(integration)` gives a `CloudAdapter` built from the integration's config and its
decrypted credentials: S3 and S3-compatible stores (boto3), Google Cloud Storage
(google-cloud-storage), Azure Blob (azure-storage-blob) and plain HTTP(S) (requests). Each one
parses the object URLs its users already have, answers HEAD (size, type), reads byte ranges or
streams, lists a bucket, and makes the provider's own time-limited signed GET URL for browsers
and re-encodes. Nothing here copies an object: probes read a prefix or seek through `RangeFile`.

Every host an adapter talks to passes the SSRF guard (`netguard`) first; HTTPS, GCS and Azure go
through `netguard.guarded_session`, which re-checks on every connection. Failures are `CloudError`
subclasses whose message a person can act on.

One module per provider (s3.py, gcs.py, azure.py, https.py), each a `CloudAdapter` of base.py,
which also holds what they share: ObjectRef/ObjectInfo, the errors and `RangeFile`.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit  # noqa: F401  (sdk/private_manifest.py reads cloud.urlsplit)

from .. import redact
from .azure import AzureAdapter
from .base import (
    STREAM_CHUNK,
    AccessDenied,
    AddressRefused,
    CloudAdapter,
    CloudError,
    ObjectInfo,
    ObjectNotFound,
    ObjectRef,
    RangeFile,
    Unreachable,
    UnsupportedURL,
    attachment,
)
from .gcs import GCSAdapter
from .https import HTTPSAdapter
from .s3 import S3Adapter

# urllib3 and requests echo request URLs, SAS tokens and signatures included: scrub them.
redact.install_log_filters()

ADAPTERS: dict[str, type[CloudAdapter]] = {
    "s3": S3Adapter,
    "gcs": GCSAdapter,
    "azure": AzureAdapter,
    "https": HTTPSAdapter,
}


def integration_credentials(integration) -> dict[str, Any]:
    """The integration's decrypted secrets (a dict); empty when it has none."""
    from datasets_app import crypto

    if not integration.credentials_encrypted:
        return {}
    return json.loads(crypto.decrypt(integration.credentials_encrypted))


def adapter_for(integration) -> CloudAdapter:
    """The adapter for a `CloudIntegration` row (credentials decrypted here, kept in memory only)."""
    cls = ADAPTERS.get(integration.provider)
    if cls is None:
        raise CloudError(f"Unknown provider {integration.provider!r}.")
    return cls(
        config=integration.config or {},
        credentials=integration_credentials(integration),
        allow_private_network=integration.allow_private_network,
    )


__all__ = [
    "ADAPTERS",
    "STREAM_CHUNK",
    "AccessDenied",
    "AddressRefused",
    "AzureAdapter",
    "CloudAdapter",
    "CloudError",
    "GCSAdapter",
    "HTTPSAdapter",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectRef",
    "RangeFile",
    "S3Adapter",
    "Unreachable",
    "UnsupportedURL",
    "adapter_for",
    "attachment",
    "integration_credentials",
]
