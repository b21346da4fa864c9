"""Naming datasets in a refusal without telling anyone about datasets they may not open: the
readable ones by title, the others only counted (the policy's "no grant reads as not found")."""

from __future__ import annotations

from collections.abc import Iterable

from datasets_app import models as m

from .policy import Op, Principal, allowed, grants_of, role_subquery


def named_for(principal: Principal | None, dataset_ids: Iterable[int], *, limit: int = 5) -> str:
    """"'Traffic', 'Night' and 2 datasets you cannot open" (readable titles first, at most
    `limit`); with no principal only a count. One query."""
    ids = set(dataset_ids)
    datasets = m.Dataset.objects.filter(pk__in=ids).order_by("title", "id")
    if principal is not None and principal.user is not None:
        datasets = datasets.annotate(my_role=role_subquery(principal.user))
    readable = [
        ds.title
        for ds in datasets
        if principal is not None and allowed(Op.READ, grants_of(principal, ds, getattr(ds, "my_role", None)))
    ]
    hidden = len(ids) - len(readable)
    parts = [repr(t) for t in readable[:limit]]
    if len(readable) > limit:
        parts.append(f"{len(readable) - limit} more")
    if hidden:
        parts.append(f"{hidden} dataset{'s' if hidden != 1 else ''} you cannot open")
    if not parts:
        return "no dataset"
    return ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]
