"""Local uploads with `encord==0.1.145` and a dataset API key (Appendix A.6.3), run by
tests/media/test_encord_0145_uploads.py in the cached 0.1.145 venv. JSON in on stdin, out on stdout."""

import json
import sys

from encord.client import EncordClientDataset
from encord.exceptions import EncordException

cfg = json.load(sys.stdin)
ds = EncordClientDataset.initialise(cfg["dataset_hash"], cfg["api_key"], domain=cfg["url"])
out = {}
video = ds.upload_video(cfg["video"])
out["video"] = {"data_hash": video["data_hash"], "title": video["title"]}
image = ds.upload_image(cfg["image"])
out["image"] = {"data_hash": image["data_hash"], "title": image["title"], "file_link": image["file_link"]}
groups = ds.create_image_group(cfg["group"], title="walk")
out["groups"] = [g["data_hash"] for g in groups]
series = ds.create_dicom_series(cfg["dicom"], title="scan")
out["dicom"] = series["data_hash"]
try:
    ds.upload_image(cfg["bad_image"])
    out["bad_image"] = "NO ERROR"
except EncordException as exc:
    out["bad_image"] = str(exc)
print(json.dumps(out))
