"""Dataset API key secrets: who has been handed one in full, and when.

A key's secret is stored encrypted, not hashed, because Encord's SDK (the seed's 0.1.145 among
them) fetches a dataset's keys WITH their secrets: any dataset ADMIN may read a secret again at any
time. So every time a secret leaves the server in full (at creation, or fetched again) a row is
written here, and the dataset's ADMINs see those rows on the dataset's API keys page.
"""

from __future__ import annotations

from collections.abc import Iterable

from datasets_app import models as m

IN_PROCESS = "Python (in-process UserClient)"
VIA_MAX_CHARS = 200


def via_api(version: str, user_agent: str = "") -> str:
    """How a request fetched a secret, e.g. "API v1 · encord-sdk-python/0.1.145 ...": the client's
    User-Agent is what it says about itself (printable characters only, cut short)."""
    agent = "".join(ch for ch in (user_agent or "") if ch.isprintable()).strip()
    text = f"API {version}" + (f" · {agent}" if agent else "")
    return text[:VIA_MAX_CHARS]


def record_reveals(user: m.User, keys: Iterable[m.DatasetAPIKey], via: str) -> None:
    """One row per key whose secret `user` is being handed now. One insert."""
    m.APIKeySecretReveal.objects.bulk_create(
        [
            m.APIKeySecretReveal(
                api_key=key,
                dataset_id=key.dataset_id,
                user=user,
                user_email=user.email,
                via=via[:VIA_MAX_CHARS],
            )
            for key in keys
        ]
    )


def recent_reveals(dataset: m.Dataset, *, limit: int = 50) -> list[m.APIKeySecretReveal]:
    """The dataset's latest reveals, newest first, each with its key. One query. Callers check
    that the reader may manage the dataset (UserClient.list_dataset_api_keys does)."""
    rows = m.APIKeySecretReveal.objects.filter(dataset=dataset).select_related("api_key")
    return list(rows.order_by("-created_at", "-id")[:limit])
