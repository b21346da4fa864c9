"""A private-cloud import: media that stays in the customer's bucket, registered by a data job.

- `add_private_data_start(dataset, integration_id=..., private_files=..., ignore_errors=...)`: THE
  function the API calls for v1 `datasetdatalongpolling` POST with an `integrationId` (the payload's
  `files` verbatim). Checks WRITE_DATA, resolves the integration (ResourceNotFoundError if the
  caller may not use it), then validates the document strictly (sdk/private_manifest.py; nothing
  created on an error), creates one DataJob (kind=private) with one unit per entry in one bulk
  insert, and enqueues the job after commit. Entries that carry videoMetadata / imageMetadata need
  no reading: their rows are written in the same transaction and their units recorded DONE.
- `run_private_job(job_id)`: the runner (sdk/jobs.run_data_job hands private jobs here): pending
  units in batches, probed in parallel (sdk/private_probes.py), rows written in bulk.
- `process_private_unit(unit)`: one unit on its own (idempotent)."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from datasets_app import models as m
from datasets_app.media import cloud
from datasets_app.media.probe import MediaError

from .bulk_insert import blank_row, fast_insert, fast_mark_done
from .exceptions import InvalidArgumentError
from .job_status import rows_or_raise
from .policy import Op, Principal
from .private_data import PrivateDataError, integration_for
from .private_manifest import Entry, load_private_files, parse_private_files, title_for
from .private_probes import submit_probes
from .units import (
    KIND_DICOM,
    KIND_IMAGE,
    KIND_VIDEO,
    Destination,
    FileFacts,
    UnitSpec,
    dicom_order,
    dicom_row,
    group_parts,
    image_group_row,
    insert_built,
    require_backing_folder,
    single_row,
)
from .unit_outcomes import cancel_pending, commit_unit, enqueue_data_job, finish_data_job, record_unit_error, unit_result

ACTIONS = {
    m.DataType.VIDEO: "Importing video",
    m.DataType.IMAGE: "Importing image",
    m.DataType.IMG_GROUP: "Importing image group",
    m.DataType.DICOM: "Importing DICOM series",
}
BATCH_SIZE = 1000


def duplicate_scope(ds: m.Dataset | None, folder: m.StorageFolder | None) -> QuerySet[m.StorageItem]:
    """The items skip_duplicate_urls compares with: a dataset job's dataset's items, a Files job's
    folder's (the SDK: "in the same folder")."""
    if ds is not None:
        return m.StorageItem.objects.filter(rows__dataset=ds)
    return m.StorageItem.objects.filter(folder=folder)


def _existing_urls(scope: QuerySet[m.StorageItem], urls: set[str]) -> set[str]:
    """Which of `urls` these items already have (items and group/series members). Set-based: one
    query per 10,000 URLs and table, never one per URL."""
    found: set[str] = set()
    ordered = sorted(urls)
    for start in range(0, len(ordered), 10_000):
        chunk = ordered[start : start + 10_000]
        found.update(scope.filter(url__in=chunk).values_list("url", flat=True))
        found.update(m.DataRowMember.objects.filter(item__in=scope, url__in=chunk).values_list("url", flat=True))
    return found


def _split_duplicates(scope: QuerySet[m.StorageItem], entries: list[Entry]) -> tuple[list[Entry], list[Entry]]:
    """(entries to import, entries whose every URL these items already have)."""
    existing = _existing_urls(scope, {u for e in entries for u in e.urls})
    kept: list[Entry] = []
    skipped: list[Entry] = []
    for entry in entries:
        if all(u in existing for u in entry.urls):
            skipped.append(entry)
            continue
        # A URL repeated inside the document counts as a duplicate of its first mention.
        existing.update(entry.urls)
        kept.append(entry)
    return kept, skipped


def _upsert_metadata(scope: QuerySet[m.StorageItem], skipped: list[Entry]) -> int:
    """Gives the existing items that skipped entries name their document's clientMetadata (entries
    without clientMetadata leave theirs alone). A single item is found by its URL, a group or
    series by the URL of its first frame. Bulk: one SELECT per table and one UPDATE per 1,000 rows.
    Returns how many items changed (the metadata is the item's: every dataset linking it sees it)."""
    wanted = {e.urls[0]: e.client_metadata for e in skipped if e.metadata_given}
    if not wanted:
        return 0
    items: dict[int, m.StorageItem] = {}
    urls = list(wanted)
    linked = scope
    for start in range(0, len(urls), 10_000):
        chunk = urls[start : start + 10_000]
        for item in linked.filter(url__in=chunk).only("pk", "url", "client_metadata"):
            item.client_metadata = wanted[item.url]
            items[item.pk] = item
        members = m.DataRowMember.objects.filter(item__in=scope, data_sequence=0, url__in=chunk)
        member_urls = dict(members.values_list("item_id", "url"))
        for item in m.StorageItem.objects.filter(pk__in=member_urls).only("pk", "client_metadata"):
            item.client_metadata = wanted[member_urls[item.pk]]
            items[item.pk] = item
    changed = list(items.values())
    now = timezone.now()
    for item in changed:
        item.last_edited_at = now
    m.StorageItem.objects.bulk_update(changed, ["client_metadata", "last_edited_at"], batch_size=1000)
    return len(changed)


# ---- starting a job ---------------------------------------------------------------------------------


def add_private_data_start(
    dataset,
    *,
    integration_id: Any,
    private_files: Any,
    ignore_errors: Any = False,
    folder: m.StorageFolder | None = None,
) -> str:
    """Starts an import job on an SDK `Dataset`; returns its process_hash. See the module docstring.
    `folder` (the wire's folderUuid, WRITE_FILES checked by the caller): a plain dataset's items go
    there (a mirror refuses it, units.require_backing_folder)."""
    ds = dataset._require(Op.WRITE_DATA)
    require_backing_folder(ds, folder)
    return start_private_job(
        dataset.principal,
        dataset=ds,
        folder=folder,
        integration_id=integration_id,
        private_files=private_files,
        ignore_errors=ignore_errors,
    )


def start_private_job(
    principal: Principal,
    *,
    dataset: m.Dataset | None,
    folder: m.StorageFolder | None,
    integration_id: Any,
    private_files: Any,
    ignore_errors: Any = False,
    file_name: str = "",
) -> str:
    """Creates and queues an import job whose items go into `folder` (None: `dataset`'s backing
    folder) with rows in `dataset` (None: a Files import; the folder's mirror gets rows). Callers
    checked the caller's rights on both. Returns the job's process_hash.

    Queries: the integration, (with skip_duplicate_urls) one per 10,000 URLs, then one insert of
    the job and bulk inserts of its units (and of the items needing no probe)."""
    if not isinstance(ignore_errors, bool):
        raise InvalidArgumentError("ignore_errors must be true or false.", field="ignore_errors")
    # The integration first: a principal that may not use it learns nothing from the document.
    integration = integration_for(principal, integration_id)
    doc = load_private_files(private_files)
    adapter = cloud.adapter_for(integration)
    entries, skip, upsert = parse_private_files(doc, adapter)
    scope = duplicate_scope(dataset, folder)
    skipped: list[Entry] = []
    if skip:
        entries, skipped = _split_duplicates(scope, entries)
    user = principal.user if principal.user is not None else None
    now = timezone.now()
    with transaction.atomic():
        job = m.DataJob.objects.create(
            dataset=dataset,
            folder=folder,
            file_name=file_name[:1024],
            kind=m.DataJob.KIND_PRIVATE,
            created_by=user,
            api_key=principal.api_key,
            integration=integration,
            ignore_errors=ignore_errors,
            skip_duplicates=skip,
            upsert_metadata=skip and upsert,
            units_total=len(entries),
        )
        dest = Destination.of_job(job)
        if skip and upsert and _upsert_metadata(scope, skipped):
            touch_datasets(dest, now)
        _insert_units(job, entries, integration, dest, now)
    return str(job.process_hash)


def touch_datasets(dest: Destination, now) -> None:
    ids = [d for d in (dest.dataset_id, *dest.also) if d is not None]
    m.Dataset.objects.filter(pk__in=ids).update(last_edited_at=now)


def _insert_units(
    job: m.DataJob, entries: list[Entry], integration: m.CloudIntegration, dest: Destination, now
) -> None:
    """The job's units in one bulk insert; entries with trusted metadata need no reading: their
    items (and rows) are written now and their units recorded DONE. Then the job is finished
    (everything ready) or queued."""
    units = [
        blank_row(
            m.DataJobUnit,
            job_id=job.pk,
            index=i,
            spec=entry.spec().to_json(),
            object_urls=entry.urls,
            action_description=ACTIONS[entry.data_type],
        )
        for i, entry in enumerate(entries)
    ]
    ready = [(u, e) for u, e in zip(units, entries) if e.metadata is not None]
    rows = []
    for unit, entry in ready:
        row = _row_from_metadata(dest, integration, entry)
        unit.status = m.JobStatus.DONE
        unit.started_at = unit.finished_at = now
        unit.results = [unit_result(row)]
        rows.append((unit, row))
    fast_insert(units, now=now, model=m.DataJobUnit)
    if rows:
        unit_ids = dict(m.DataJobUnit.objects.filter(job=job).values_list("index", "id"))
        for unit, row in rows:
            row.created_by_job_id = row.item.created_by_job_id = unit_ids[unit.index]
        insert_built([r for _, r in rows], now=now, dest=dest)
        touch_datasets(dest, now)
    if len(ready) == len(units):
        m.DataJob.move(job.pk, m.JobStatus.PENDING, m.JobStatus.DONE, finished_at=now)
    else:
        enqueue_data_job(job, video=any(e.data_type == m.DataType.VIDEO and e.metadata is None for e in entries))


# One shared object: fast_insert converts a repeated value once.
_TRUSTED_INFO = {"source": "customer metadata"}


def _row_from_metadata(dest: Destination, integration: m.CloudIntegration, entry: Entry):
    """A blank_row of a DataRow whose `item` is a blank_row of its StorageItem (for fast_insert_linked)."""
    md = entry.metadata or {}
    video = entry.data_type == m.DataType.VIDEO
    item = blank_row(
        m.StorageItem,
        folder_id=dest.folder_id,
        owner_id=dest.owner_id,
        name=title_for(entry),
        item_type=entry.data_type,
        file_size=md.get("file_size"),
        mime_type=md.get("mime_type", ""),
        width=md.get("width"),
        height=md.get("height"),
        fps=md.get("fps") if video else None,
        duration=md.get("duration") if video else None,
        frame_count=round(md["fps"] * md["duration"]) if video else None,
        client_metadata=entry.client_metadata,
        url=entry.urls[0],
        integration_id=integration.pk,
        media_info=_TRUSTED_INFO,
    )
    return blank_row(m.DataRow, dataset_id=dest.dataset_id, item=item)




def _rows_for(
    unit: m.DataJobUnit, integration: m.CloudIntegration, probed: list[FileFacts], dest: Destination
) -> tuple[list[m.DataRow], list[m.DataRowMember]]:
    """The unit's rows and their (unsaved) items from its probed objects (sdk/units.py's builders;
    members point at their item)."""
    spec = UnitSpec.from_json(unit.spec)
    base_title = spec.title or spec.sources[0].rsplit("/", 1)[-1]

    def place(files: list[FileFacts]) -> dict:
        return {"url": files[0].place["url"], "integration_id": integration.pk}

    if spec.kind in (KIND_VIDEO, KIND_IMAGE):
        facts = probed[0]
        row = single_row(dest=dest, spec=spec, title=base_title, facts=facts, place=place(probed))
        built = [(row, [])]
    elif spec.kind == KIND_DICOM:
        ordered = dicom_order(probed)
        built = [dicom_row(dest=dest, spec=spec, title=base_title, files=ordered, place=place(ordered))]
    else:
        groups = group_parts(spec, probed)
        built = [
            image_group_row(
                dest=dest,
                spec=spec,
                title=base_title if len(groups) == 1 else f"{base_title} ({w}x{h})",
                files=files,
                place=place(files),
            )
            for (w, h), files in groups.items()
        ]
    rows, members = [], []
    for row, row_members in built:
        row.created_by_job_id = row.item.created_by_job_id = unit.pk
        rows.append(row)
        for member in row_members:
            member.item = row.item
        members += row_members
    return rows, members


def _job_integration(job: m.DataJob) -> m.CloudIntegration:
    if job.integration_id is None:
        raise MediaError("The job's cloud integration was deleted; add the data again with another one.")
    return job.integration


def process_private_unit(unit: m.DataJobUnit) -> list[dict]:
    """Reads one unit's objects through the job's integration, writes its row(s) and records the
    unit DONE in the same transaction (unit_outcomes.commit_unit); returns
    `[{"data_hash", "title", "backing_item_uuid"}]`. Idempotent: a unit already recorded is left
    alone. Raises media.probe.MediaError (the job runner records its reason on the unit) when an
    object cannot be read: unreachable, 404, refused address, not the right media."""
    if unit.status != m.JobStatus.PENDING:
        return list(unit.results or [])
    integration = _job_integration(unit.job)
    ((_, future),) = submit_probes(cloud.adapter_for(integration), [unit])
    try:
        probed = future.result()
    except PrivateDataError as exc:
        raise MediaError(exc.message) from None
    dest = Destination.of_job(unit.job)
    rows, members = _rows_for(unit, integration, probed, dest)
    results = [unit_result(r) for r in rows]
    row_of_item = {id(r.item): r for r in rows}
    by_row: dict = {}
    for member in members:
        by_row.setdefault(row_of_item[id(member.item)].data_hash, []).append(member)
    if not commit_unit(unit.job, unit, rows=rows, members=by_row, results=results, dest=dest):
        # Another delivery recorded this unit first; its rows stand, ours were never written.
        return list(m.DataJobUnit.objects.values_list("results", flat=True).get(pk=unit.pk) or [])
    return results


def _write_probed(futures: list[tuple[m.DataJobUnit, Future]]) -> dict[int, list[dict] | PrivateDataError]:
    """Waits for the probes, then writes the rows of units still PENDING in one transaction."""
    out: dict[int, list[dict] | PrivateDataError] = {}
    if not futures:
        return out
    todo = [u for u, _ in futures]
    integration = _job_integration(todo[0].job)
    dest = Destination.of_job(todo[0].job)
    built: list[tuple[m.DataJobUnit, list[m.DataRow], list[m.DataRowMember]]] = []
    for unit, future in futures:
        try:
            probed = future.result()
        except PrivateDataError as exc:
            out[unit.pk] = exc
            continue
        rows, members = _rows_for(unit, integration, probed, dest)
        built.append((unit, rows, members))
    if not built:
        return out
    now = timezone.now()
    with transaction.atomic():
        # Claim: only units still pending are written (a concurrent delivery may have won some).
        pending = set(
            m.DataJobUnit.objects.select_for_update()
            .filter(pk__in=[u.pk for u, _, _ in built], status=m.JobStatus.PENDING)
            .values_list("pk", flat=True)
        )
        fresh = [(u, rows, mbs) for u, rows, mbs in built if u.pk in pending]
        insert_built(
            [r for _, rows, _ in fresh for r in rows],
            now=now,
            members=[mb for _, _, mbs in fresh for mb in mbs],
            dest=dest,
        )
        for unit, rows, _ in fresh:
            unit.status, unit.results, unit.finished_at = m.JobStatus.DONE, [unit_result(r) for r in rows], now
            out[unit.pk] = unit.results
        fast_mark_done([u for u, _, _ in fresh], now=now)
        if fresh:
            touch_datasets(dest, now)
    for unit, _, _ in built:
        if unit.pk not in pending:
            out[unit.pk] = list(m.DataJobUnit.objects.values_list("results", flat=True).get(pk=unit.pk) or [])
    return out


def run_private_job(job_id: int) -> str:
    """The batch runner for a private job: pending units in batches of BATCH_SIZE, probed in
    parallel, their rows written and outcomes recorded in bulk (conditional PENDING -> DONE/ERROR
    updates, so a second run changes nothing); the final status is settled by
    unit_outcomes.finish_data_job exactly as for uploads. Returns the job's status."""
    job = (
        m.DataJob.objects.select_related("integration", "dataset")
        .filter(pk=job_id, kind=m.DataJob.KIND_PRIVATE)
        .first()
    )
    if job is None:
        return "MISSING"
    if job.is_terminal:
        return job.status
    units = list(
        m.DataJobUnit.objects.select_related("job", "job__integration", "job__dataset")
        .filter(job=job, status=m.JobStatus.PENDING)
        .order_by("index")
    )
    batches = [units[i : i + BATCH_SIZE] for i in range(0, len(units), BATCH_SIZE)]
    adapter = cloud.adapter_for(_job_integration(job)) if batches else None
    # Probes of the next batch run while the current batch is written (network and DB overlap).
    upcoming = submit_probes(adapter, batches[0]) if batches else []
    for i in range(len(batches)):
        current = upcoming
        upcoming = submit_probes(adapter, batches[i + 1]) if i + 1 < len(batches) else []
        outcomes = _write_probed(current)
        failed = [u for u, _ in current if isinstance(outcomes.get(u.pk), PrivateDataError)]
        for unit in failed:
            record_unit_error(unit, outcomes[unit.pk].message)
        if failed and not job.ignore_errors:
            for _, future in upcoming:
                future.cancel()
            cancel_pending(job, "Not processed: another item of this job failed and ignore_errors is off.")
            break
    return finish_data_job(job)


def add_private_data(
    dataset,
    integration_id: Any,
    private_files: Any,
    ignore_errors: Any = False,
    *,
    timeout_seconds: float = 7 * 24 * 3600,
) -> list:
    """Start + wait; the created rows (DatasetDataInfo). A job that ends in ERROR raises
    InvalidArgumentError with the units' errors."""
    process_hash = add_private_data_start(
        dataset, integration_id=integration_id, private_files=private_files, ignore_errors=ignore_errors
    )
    result = dataset.wait_data_job(process_hash, timeout_seconds)
    return rows_or_raise(result, at_least=0)

