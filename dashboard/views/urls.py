from django.urls import path
from django.views.generic import RedirectView

from . import (
    account,
    api_keys,
    auth,
    dataset,
    dataset_admin,
    datasets,
    dicom_viewer,
    integrations,
    jobs,
    members,
    private_data,
    reencode,
    upload,
)

app_name = "dashboard"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="dashboard:dataset-list", permanent=False), name="home"),
    path("login", auth.sign_in, name="login"),
    path("logout", auth.sign_out, name="logout"),
    path("account", account.account, name="account"),
    path("account/keys/generate", account.key_pair_generate, name="key-pair-generate"),
    path("account/keys/<int:key_id>/delete", account.public_key_delete, name="public-key-delete"),
    path("account/tokens/<int:token_id>/revoke", account.bearer_token_revoke, name="bearer-token-revoke"),
    path("account/tokens/revoke-all", account.bearer_tokens_revoke_all, name="bearer-tokens-revoke-all"),
    path("jobs", jobs.job_list, name="jobs"),
    path("integrations", integrations.integration_list, name="integrations"),
    path(
        "integrations/<uuid:integration_id>/delete",
        integrations.integration_delete,
        name="integration-delete",
    ),
    path("datasets", datasets.dataset_list, name="dataset-list"),
    path("datasets/new", datasets.dataset_create, name="dataset-create"),
    path("datasets/<uuid:dataset_hash>", dataset.dataset_detail, name="dataset-detail"),
    path("datasets/<uuid:dataset_hash>/settings", dataset_admin.dataset_settings, name="dataset-settings"),
    path("datasets/<uuid:dataset_hash>/delete", dataset_admin.dataset_delete, name="dataset-delete"),
    path("datasets/<uuid:dataset_hash>/rows/delete", dataset_admin.data_rows_delete, name="data-rows-delete"),
    path("datasets/<uuid:dataset_hash>/rows/<uuid:data_hash>", dataset.data_row_detail, name="data-row"),
    path(
        "datasets/<uuid:dataset_hash>/rows/<uuid:data_hash>/rename",
        dataset_admin.data_row_rename,
        name="data-row-rename",
    ),
    path(
        "datasets/<uuid:dataset_hash>/rows/<uuid:data_hash>/dicom/<uuid:image_hash>.png",
        dicom_viewer.dicom_slice,
        name="dicom-slice",
    ),
    path("datasets/<uuid:dataset_hash>/upload", upload.upload_page, name="upload"),
    path("datasets/<uuid:dataset_hash>/upload/sessions", upload.upload_start, name="upload-start"),
    path(
        "datasets/<uuid:dataset_hash>/upload/sessions/<uuid:upload_id>",
        upload.upload_chunk,
        name="upload-chunk",
    ),
    path("datasets/<uuid:dataset_hash>/upload/finish", upload.upload_finish, name="upload-finish"),
    path("datasets/<uuid:dataset_hash>/import", private_data.private_data_import, name="private-data-import"),
    path("datasets/<uuid:dataset_hash>/jobs/<uuid:process_hash>", jobs.data_job_detail, name="data-job"),
    path("datasets/<uuid:dataset_hash>/reencode", reencode.reencode_start, name="reencode-start"),
    path("datasets/<uuid:dataset_hash>/reencode/<int:task_id>", reencode.reencode_task, name="reencode-task"),
    path("datasets/<uuid:dataset_hash>/keys", api_keys.api_key_list, name="api-keys"),
    path(
        "datasets/<uuid:dataset_hash>/keys/<uuid:key_hash>/revoke",
        api_keys.api_key_revoke,
        name="api-key-revoke",
    ),
    path("datasets/<uuid:dataset_hash>/members", members.member_list, name="members"),
    path("datasets/<uuid:dataset_hash>/members/role", members.member_role, name="member-role"),
    path("datasets/<uuid:dataset_hash>/members/remove", members.member_remove, name="member-remove"),
]
