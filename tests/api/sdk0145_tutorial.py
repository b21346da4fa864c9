"""The seed tutorial's API-key flow with `encord==0.1.145`, run by tests/api/test_sdk_0145.py in
its own virtual environment (0.1.145's pins differ from 0.1.211's).

Input: one JSON object on stdin. Output: one JSON object of observations on stdout."""

import json
import sys

from encord import EncordUserClient
from encord.client import EncordClient, EncordClientDataset
from encord.exceptions import (
    AuthenticationError,
    AuthorisationError,
    OperationNotAllowed,
    ResourceNotFoundError,
)
from encord.orm.dataset import DatasetScope, StorageLocation

cfg = json.load(sys.stdin)
url = cfg["url"]
out = {}


def expect(exc_type, fn):
    try:
        fn()
    except exc_type as exc:
        return type(exc).__name__
    except Exception as exc:  # noqa: BLE001 - report the wrong exception by name
        return f"WRONG {type(exc).__name__}: {exc}"
    return "NO ERROR"


user_client = EncordUserClient.create_with_ssh_private_key(cfg["admin_key"], domain=url)

# Datasets: create, list (with a filter), open with the SSH key.
created = user_client.create_dataset("Traffic Data", StorageLocation.AWS, "cars")
out["created"] = {k: str(v) for k, v in dict(created).items()}
listed = user_client.get_datasets()
out["listed"] = sorted((e["dataset"].title, int(e["user_role"]), int(e["dataset"].type)) for e in listed)
out["filtered"] = [e["dataset"].title for e in user_client.get_datasets(title_like="Traffic%")]
out["cloud_integrations"] = [(i.id, i.title) for i in user_client.get_cloud_integrations()]
ssh_ds = user_client.get_dataset(cfg["dataset_hash"])
out["ssh_rows"] = [r.title for r in ssh_ds.data_rows]
out["ssh_dataset_storage"] = ssh_ds.storage_location.name

# API keys: create, list, get_or_create (returns the existing full key), and on a new dataset.
key = user_client.create_dataset_api_key(
    cfg["dataset_hash"], "Example api key title", [DatasetScope.READ, DatasetScope.WRITE]
)
out["key"] = {
    "title": key.title,
    "scopes": sorted(s.value for s in key.scopes),
    "dataset_hash": key.dataset_hash,
}
keys = user_client.get_dataset_api_keys(cfg["dataset_hash"])
out["keys"] = [(k.title, k.key_hash) for k in keys]
again = user_client.get_or_create_dataset_api_key(cfg["dataset_hash"])
out["get_or_create_same"] = again.api_key == key.api_key
fresh = user_client.get_or_create_dataset_api_key(created["dataset_hash"])
out["get_or_create_new_title"] = fresh.title
out["get_or_create_new_again"] = (
    user_client.get_or_create_dataset_api_key(created["dataset_hash"]).api_key == fresh.api_key
)

# Resource authentication with the key.
client = EncordClient.initialise(cfg["dataset_hash"], key.api_key, domain=url)
out["initialised"] = type(client).__name__
dataset = client.get_dataset()
out["key_title"] = dataset.title
out["key_rows"] = [r.title for r in dataset.data_rows]
out["listed_rows"] = [r.title for r in client.list_data_rows(title_like="cam%")]
out["key_cloud_integrations"] = [i.title for i in client.get_cloud_integrations()]
out["update"] = client.update_data_item(cfg["rename_hash"], "renamed by key")
client.delete_data([cfg["delete_hash"]])
ds_client = EncordClientDataset.initialise(cfg["dataset_hash"], key.api_key, domain=url)
out["dataset_client_rows"] = len(ds_client.get_dataset().data_rows)

# Scope refusals.
read_key = user_client.create_dataset_api_key(cfg["dataset_hash"], "read only", [DatasetScope.READ])
write_key = user_client.create_dataset_api_key(cfg["dataset_hash"], "write only", [DatasetScope.WRITE])
reader = EncordClient.initialise(cfg["dataset_hash"], read_key.api_key, domain=url)
writer = EncordClient.initialise(cfg["dataset_hash"], write_key.api_key, domain=url)
out["read_key_delete"] = expect(OperationNotAllowed, lambda: reader.delete_data([cfg["rename_hash"]]))
out["read_key_update"] = expect(
    OperationNotAllowed, lambda: reader.update_data_item(cfg["rename_hash"], "no")
)
out["write_key_read"] = expect(OperationNotAllowed, lambda: writer.get_dataset())
out["write_key_list"] = expect(OperationNotAllowed, lambda: writer.list_data_rows())

# Failures: unknown key, a key for another dataset, a non-admin managing keys, a hidden dataset.
out["bad_key"] = expect(
    AuthenticationError, lambda: EncordClient.initialise(cfg["dataset_hash"], "nonsense-key", domain=url)
)
out["other_dataset"] = expect(
    AuthorisationError, lambda: EncordClient.initialise(created["dataset_hash"], key.api_key, domain=url)
)
member_client = EncordUserClient.create_with_ssh_private_key(cfg["member_key"], domain=url)
out["member_create_key"] = expect(
    AuthorisationError,
    lambda: member_client.create_dataset_api_key(cfg["dataset_hash"], "x", [DatasetScope.READ]),
)
out["member_hidden_dataset"] = expect(
    ResourceNotFoundError, lambda: member_client.get_dataset_api_keys(created["dataset_hash"])
)
print(json.dumps(out))
