"""A URLconf for the media endpoint tests until datasets_app/api/urls.py routes it (no tests here)."""

from django.urls import path

from dashboard.urls import urlpatterns as _site
from datasets_app.api.media_views import signed_media

urlpatterns = [path("media/signed/<path:key>", signed_media, name="media-signed"), *_site]
