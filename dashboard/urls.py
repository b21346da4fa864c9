from django.urls import include, path

from dashboard.views import health
from datasets_app.observability import metrics_view

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("livez", health.livez, name="livez"),
    path("metrics", metrics_view, name="metrics"),
    path("", include("datasets_app.api.urls")),
    path("", include("dashboard.views.urls")),
]
