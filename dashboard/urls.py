from django.urls import include, path

from dashboard.views import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("", include("dashboard.views.urls")),
]
