from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from . import datasets, dataset

app_name = "dashboard"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="dashboard:dataset-list", permanent=False), name="home"),
    path("login", auth_views.LoginView.as_view(template_name="login.html", redirect_authenticated_user=True), name="login"),
    path("logout", auth_views.LogoutView.as_view(), name="logout"),
    path("datasets", datasets.dataset_list, name="dataset-list"),
    path("datasets/new", datasets.dataset_create, name="dataset-create"),
    path("datasets/<str:dataset_hash>", dataset.dataset_detail, name="dataset-detail"),
]
