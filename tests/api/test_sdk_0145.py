"""The tutorial's dataset API-key flow with the real `encord==0.1.145` (Appendix A), run as a
subprocess from a virtual environment made once and cached under .cache/encord-0.1.145."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from datasets_app import models as m
from tests.factories import CloudIntegrationFactory, DataRowFactory

from .conftest import openssh_private, register_key

VENV = Path(__file__).resolve().parents[2] / ".cache" / "encord-0.1.145"
SCRIPT = Path(__file__).with_name("sdk0145_tutorial.py")

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="session")
def python_0145() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run(["python3", "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(VENV / "bin" / "pip"), "install", "-q", "encord==0.1.145"], check=True, timeout=600
        )
    check = subprocess.run(
        [str(python), "-c", "import encord; print(encord.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.stdout.strip() == "0.1.145", check.stderr
    return python


def test_api_key_tutorial_with_sdk_0145(python_0145, live_server, dataset, ds_admin, ds_user):
    cam1 = DataRowFactory(dataset=dataset, title="cam1.mp4")
    cam2 = DataRowFactory(dataset=dataset, title="cam2.mp4")
    DataRowFactory(dataset=dataset, title="frames")
    integration = CloudIntegrationFactory(title="minio-main", provider="s3", owner=ds_admin)
    cfg = {
        "url": live_server.url,
        "admin_key": openssh_private(register_key(ds_admin)),
        "member_key": openssh_private(register_key(ds_user)),
        "dataset_hash": str(dataset.dataset_hash),
        "rename_hash": str(cam1.data_hash),
        "delete_hash": str(cam2.data_hash),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENCORD_", "CORD_"))}
    proc = subprocess.run(
        [str(python_0145), str(SCRIPT)],
        input=json.dumps(cfg),
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])

    new = m.Dataset.objects.get(title="Traffic Data")
    assert out["created"]["title"] == "Traffic Data" and out["created"]["type"] == "1"
    assert out["created"]["dataset_hash"] == str(new.dataset_hash)
    assert new.storage_location == m.StorageLocation.AWS  # 0.1.145 sends the type; it is kept
    assert out["listed"] == sorted([[dataset.title, 0, 0], ["Traffic Data", 0, 1]])
    assert out["filtered"] == ["Traffic Data"]
    assert out["cloud_integrations"] == [[str(integration.integration_uuid), "minio-main"]]
    assert (
        out["ssh_rows"] == ["cam1.mp4", "cam2.mp4", "frames"] and out["ssh_dataset_storage"] == "CORD_STORAGE"
    )

    assert out["key"] == {
        "title": "Example api key title",
        "scopes": ["dataset.read", "dataset.write"],
        "dataset_hash": str(dataset.dataset_hash),
    }
    assert [t for t, _ in out["keys"]] == ["Example api key title"]
    assert out["get_or_create_same"] is True
    assert (
        out["get_or_create_new_title"] == f"{new.dataset_hash} - admin key" and out["get_or_create_new_again"]
    )
    assert new.api_keys.count() == 1

    assert out["initialised"] == "EncordClientDataset"
    assert out["key_title"] == dataset.title
    assert out["key_rows"] == ["cam1.mp4", "cam2.mp4", "frames"]
    assert out["listed_rows"] == ["cam1.mp4", "cam2.mp4"]
    assert out["key_cloud_integrations"] == ["minio-main"]
    assert out["update"] is True
    assert out["dataset_client_rows"] == 2
    assert list(m.DataRow.objects.filter(dataset=dataset).values_list("item__name", flat=True)) == [
        "renamed by key",
        "frames",
    ]

    for step in ("read_key_delete", "read_key_update", "write_key_read", "write_key_list"):
        assert out[step] == "OperationNotAllowed", (step, out[step])
    assert out["bad_key"] == "AuthenticationError"
    assert out["other_dataset"] == "AuthorisationError"
    assert out["member_create_key"] == "AuthorisationError"
    assert out["member_hidden_dataset"] == "ResourceNotFoundError"
    assert m.DataRow.objects.get(pk=cam1.pk).title == "renamed by key"  # refusals changed nothing
