"""Storage re-encoding (storage protocol §7; endpoint table #43, #44) through the real
`encord==0.1.211` SDK against a live server: folder.re_encode_videos starts a process,
folder.get_re_encoding_status reports it. The tests without a worker come first: this module's
worker thread (module scope) starts with the first test that asks for data_worker and then takes
every task queued, so a process stays pending only before it."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from encord.exceptions import InvalidArgumentsError
from encord.orm.dataset import StorageLocation
from encord.orm.storage import JobStatus

from datasets_app import models as m
from datasets_app.sdk import policy
from datasets_app.sdk.policy import Grant, Op
from tests.factories import StorageFolderFactory, StorageItemFactory, UserFactory
from tests.media.mediagen import make_video, vfr_pts
from tests.waits import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

REENCODE = "/v2/public/storage/items/reencode"


@pytest.fixture
def alice(db):
    return UserFactory(email="alice@example.com")


@pytest.fixture
def bob(db):
    return UserFactory(email="bob@example.com")


@pytest.fixture
def shelf(alice):
    return StorageFolderFactory(owner=alice, name="shelf")


def video_in(folder, **fields) -> m.StorageItem:
    return StorageItemFactory(folder=folder, owner=folder.owner, **fields)


def refusal(exc_info) -> str:
    return str(exc_info.value.message)


def test_identical_pending_requests_share_a_process_and_strangers_cannot_poll_it(
    sdk_client, alice, bob, shelf, org_admin
):
    one, two = video_in(shelf), video_in(shelf)
    folder = sdk_client(alice).get_storage_folder(shelf.folder_uuid)

    process = folder.re_encode_videos([one.item_uuid, two.item_uuid], "fix sync", True)
    assert isinstance(process, uuid.UUID)
    # the same request again (any order, repeats) while pending: the same process
    assert folder.re_encode_videos([two.item_uuid, one.item_uuid, one.item_uuid], "fix sync", True) == process
    # another title, another flag or another set of items: another process
    others = {
        folder.re_encode_videos([one.item_uuid, two.item_uuid], "other title", True),
        folder.re_encode_videos([one.item_uuid, two.item_uuid], "fix sync", False),
        folder.re_encode_videos([one.item_uuid], "fix sync", True),
    }
    assert process not in others and len(others) == 3

    status = folder.get_re_encoding_status(process)
    assert (status.status, status.result) == (JobStatus.SUBMITTED, None)
    task = m.ReEncodeTask.objects.get(process_uuid=process)
    assert (task.dataset, task.created_by, task.title) == (None, alice, "fix sync")
    assert sorted(task.videos.values_list("item_uuid", flat=True)) == sorted([one.item_uuid, two.item_uuid])

    # a stranger (even one who may see the folder) hears what an unknown process gives, word for word
    m.FolderMembership.objects.create(folder=shelf, user=bob, role=m.DatasetUserRole.ADMIN)
    as_bob = sdk_client(bob).get_storage_folder(shelf.folder_uuid)
    with pytest.raises(InvalidArgumentsError) as theirs:
        as_bob.get_re_encoding_status(process)
    unknown = uuid.uuid4()
    with pytest.raises(InvalidArgumentsError) as missing:
        as_bob.get_re_encoding_status(unknown)
    assert refusal(theirs) == f"Re-encode process {process} does not exist or you do not have access to it."
    assert refusal(theirs).replace(str(process), str(unknown)) == refusal(missing)
    # an organisation admin may follow anyone's process
    admin_folder = sdk_client(org_admin).get_storage_folder(shelf.folder_uuid)
    assert admin_folder.get_re_encoding_status(process).status == JobStatus.SUBMITTED


def test_refusals_name_the_items_and_hide_what_the_caller_cannot_see(sdk_client, alice, bob, shelf, monkeypatch):
    clip = video_in(shelf)
    image = video_in(shelf, item_type=m.DataType.IMAGE, name="photo.png", mime_type="image/png")
    hidden = video_in(StorageFolderFactory(owner=bob))  # bob's: alice may not see it
    unknown = uuid.uuid4()
    folder = sdk_client(alice).get_storage_folder(shelf.folder_uuid)

    with pytest.raises(InvalidArgumentsError) as empty:
        folder.re_encode_videos([], "t", True)
    assert refusal(empty) == "storageItems must name at least one video item."
    with pytest.raises(InvalidArgumentsError) as not_video:
        folder.re_encode_videos([clip.item_uuid, image.item_uuid], "t", True)
    assert refusal(not_video) == f"Item {image.item_uuid} ('photo.png') is not a video (it is an image): only videos are re-encoded."

    # an item of a folder the caller cannot see reads as unknown, word for word
    with pytest.raises(InvalidArgumentsError) as seen_hidden:
        folder.re_encode_videos([clip.item_uuid, hidden.item_uuid], "t", True)
    with pytest.raises(InvalidArgumentsError) as seen_unknown:
        folder.re_encode_videos([clip.item_uuid, unknown], "t", True)
    assert refusal(seen_hidden) == f"Item {hidden.item_uuid} does not exist or you do not have access to it."
    assert refusal(seen_hidden).replace(str(hidden.item_uuid), str(unknown)) == refusal(seen_unknown)
    # several problems at once: every item is named, by kind of problem
    with pytest.raises(InvalidArgumentsError) as several:
        folder.re_encode_videos([image.item_uuid, hidden.item_uuid, unknown], "t", True)
    assert refusal(several) == (
        f"Items {hidden.item_uuid}, {unknown} do not exist or you do not have access to them. "
        f"Item {image.item_uuid} ('photo.png') is not a video (it is an image): only videos are re-encoded."
    )

    # an item the caller may see but not change (were the policy to let USERs only read): named as such
    m.FolderMembership.objects.create(folder=shelf, user=bob, role=m.DatasetUserRole.USER)
    monkeypatch.setitem(policy.POLICY, Op.WRITE_FILES, frozenset({Grant.ORG_ADMIN, Grant.FOLDER_ADMIN}))
    with pytest.raises(InvalidArgumentsError) as read_only:
        sdk_client(bob).get_storage_folder(shelf.folder_uuid).re_encode_videos([clip.item_uuid], "t", True)
    assert refusal(read_only) == (
        f"Item {clip.item_uuid} ('{clip.name}'): your role on its folder does not allow re-encoding it "
        "(it needs the right to update the folder's items)."
    )
    assert not m.ReEncodeTask.objects.exists()  # nothing was started by any refusal


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "The body must be a JSON object."),
        ({"processTitle": "t", "forceFullReencoding": True}, "storageItems must be a list of strings."),
        ({"storageItems": "abc", "processTitle": "t", "forceFullReencoding": True}, "storageItems must be a list of strings."),
        ({"storageItems": [1], "processTitle": "t", "forceFullReencoding": True}, "storageItems must be a list of strings."),
        ({"storageItems": ["nope"], "processTitle": "t", "forceFullReencoding": True}, "storageItems 'nope' is not a valid UUID."),
        ({"storageItems": [str(uuid.uuid4())], "processTitle": 5, "forceFullReencoding": True}, "processTitle must be a string."),
        ({"storageItems": [str(uuid.uuid4())], "forceFullReencoding": True}, "processTitle must be a string."),
        ({"storageItems": [str(uuid.uuid4())], "processTitle": "t", "forceFullReencoding": "yes"}, "forceFullReencoding must be true or false."),
        ({"storageItems": [str(uuid.uuid4())], "processTitle": "t"}, "forceFullReencoding must be true or false."),
        ({"storageItems": [], "processTitle": "t", "forceFullReencoding": True, "x": 1}, "body has unknown keys: x."),
    ],
)
def test_bad_bodies_are_400_with_the_reason(wire_client, alice, body, message):
    response = wire_client(alice, bearer=True).v2("POST", REENCODE, body)
    assert response.status_code == 400
    assert response.json()["message"] == message


def test_status_of_a_malformed_or_dataset_process_is_refused(wire_client, alice, dataset):
    raw = wire_client(alice, bearer=True)
    assert raw.v2("GET", f"{REENCODE}/not-a-uuid").status_code == 404  # no such route
    # a dataset's re-encode task has a process uuid too, but it is not a storage process
    task = m.ReEncodeTask.objects.create(dataset=dataset, created_by=alice)
    response = raw.v2("GET", f"{REENCODE}/{task.process_uuid}")
    assert response.status_code == 400
    assert response.json()["message"] == (
        f"Re-encode process {task.process_uuid} does not exist or you do not have access to it."
    )


def test_a_folder_video_is_re_encoded_in_place_and_rows_linking_it_see_it(tmp_path, sdk_client, alice, data_worker):
    client = sdk_client(alice)
    folder = client.create_storage_folder("cams")
    pts = vfr_pts(30)
    video_uuid = folder.upload_video(str(make_video(tmp_path / "vfr.mp4", pts=pts, fps=20)), title="vfr clip")
    before = m.StorageItem.objects.get(item_uuid=video_uuid)
    assert before.media_info["verdict"] == "at risk"
    created = client.create_dataset("linked", StorageLocation.CORD_STORAGE, create_backing_folder=False)
    (row,) = client.get_dataset(created.dataset_hash).link_items([video_uuid])

    process = folder.re_encode_videos([video_uuid], "make it frame-accurate", True)
    status = wait_for(lambda: (s := folder.get_re_encoding_status(process)).status != JobStatus.SUBMITTED and s)

    assert status.status == JobStatus.DONE
    assert status.result == [{"item_uuid": str(video_uuid), "signed_url": None, "status": "done", "error": None}]
    item = m.StorageItem.objects.get(item_uuid=video_uuid)
    assert item.storage_key == f"reencoded/items/{video_uuid}.mp4" and default_storage.exists(item.storage_key)
    assert item.original_storage_key == before.storage_key
    assert (item.media_info["verdict"], item.frame_count, item.mime_type) == ("ok", len(pts), "video/mp4")
    assert item.media_info["original"]["verdict"] == "at risk"
    # the row reads its media from the item: the dataset sees the re-encoded video
    linked = m.DataRow.objects.get(data_hash=row.uid)
    assert (linked.storage_key, linked.media_info["verdict"]) == (item.storage_key, "ok")
    assert client.get_storage_item(video_uuid).file_size == item.file_size


def test_a_video_that_cannot_be_decoded_says_so_in_its_entry(sdk_client, alice, shelf, data_worker):
    broken = video_in(shelf, name="broken.mp4")
    default_storage.save(broken.storage_key, ContentFile(b"not a video at all"))
    folder = sdk_client(alice).get_storage_folder(shelf.folder_uuid)

    process = folder.re_encode_videos([broken.item_uuid], "t", False)
    status = wait_for(lambda: (s := folder.get_re_encoding_status(process)).status != JobStatus.SUBMITTED and s)

    assert status.status == JobStatus.ERROR
    (entry,) = status.result
    assert (entry["item_uuid"], entry["signed_url"], entry["status"]) == (str(broken.item_uuid), None, "error")
    assert entry["error"].startswith("The video could not be opened") or "decoded" in entry["error"]
    assert m.StorageItem.objects.get(pk=broken.pk).storage_key == broken.storage_key  # left as it was

