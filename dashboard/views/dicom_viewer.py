"""One slice of a DICOM series as a PNG for the item page's series viewer (static/js/dicom_viewer.js)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.views.decorators.http import require_GET

from .common import open_dataset

# A slice's file never changes under its image hash: the browser may keep the rendering this long.
SLICE_MAX_AGE = 3600


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.6g}"


@login_required
@require_GET
def dicom_slice(request, dataset_hash, data_hash, image_hash):
    """The slice through ?center=&width= (modality units), else through its file's own window; the
    window used, the file's default and the instance number ride in X- headers. A slice that
    cannot be shown answers 422 with the reason as text (the viewer shows it), never an image."""
    dataset = open_dataset(request, dataset_hash)
    found = dataset.dicom_slice(
        str(data_hash), str(image_hash), center=request.GET.get("center"), width=request.GET.get("width")
    )
    if found.error:
        response = HttpResponse(found.error, status=422, content_type="text/plain; charset=utf-8")
        add_never_cache_headers(response)  # a missing file or a timeout may not last
        return response
    response = HttpResponse(found.png, content_type="image/png")
    headers = {
        "X-Dicom-Instance-Number": found.instance_number,
        "X-Dicom-Frames": found.frames,
        "X-Window-Center": found.center,
        "X-Window-Width": found.width,
        "X-Default-Window-Center": found.default_center,
        "X-Default-Window-Width": found.default_width,
    }
    for name, value in headers.items():
        if value is not None:
            response[name] = _number(value)
    patch_cache_control(response, private=True, max_age=SLICE_MAX_AGE)
    return response
