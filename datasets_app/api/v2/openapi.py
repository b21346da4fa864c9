"""The OpenAPI 3.1 document of the v2 routes, served at /v2/public/openapi.json.

Hand-written: the routes are few and their shapes come from the protocol, not from models.
Another v2 module documents its own routes by defining `OPENAPI_PATHS` (merged in here)."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import path

UUID = {"type": "string", "format": "uuid"}
NULLABLE_UUID = {"type": ["string", "null"], "format": "uuid"}
DATETIME = {"type": "string", "format": "date-time"}
BOOL_QUERY = {"type": "string", "enum": ["True", "False", "true", "false", "1", "0"]}
# No NUL anywhere (no database text column holds it); titles also no control characters and not blank.
# Unpaired UTF-16 surrogates (a lone "\\udc00" escape) are refused with 400 wherever they appear, as
# NUL is: PostgreSQL stores neither (not in text, not in jsonb). They are said in words, not in the
# pattern: a surrogate range there makes schemathesis drop the whole pattern.
TEXT = {"type": "string", "pattern": "^[^\\u0000]*$"}
# Any JSON object (clientMetadata, opaque bodies), to any depth; no NUL in any key or string.
JSON_OBJECT = {"$ref": "#/components/schemas/JsonObject"}
TITLE = {
    "type": "string",
    "minLength": 1,
    "maxLength": 1024,
    "pattern": "^[^\\u0000-\\u001f]*[^\\s\\u0000-\\u001f][^\\u0000-\\u001f]*$",
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


COMMON_ERRORS = {
    "400": _error(
        "Invalid arguments; also any body or query holding a NUL character or an unpaired UTF-16 "
        "surrogate in any string or key, however deep (no database column stores them)"
    ),
    "401": _error("Missing or bad signature or token"),
    "413": _error("Body over API_MAX_BODY_BYTES"),
    "429": _error("Rate limit per identity; see Retry-After"),
}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


DATASET_UUID_PARAM = {"name": "dataset_uuid", "in": "path", "required": True, "schema": UUID}

PATHS: dict[str, Any] = {
    "/v2/public/datasets": {
        "post": {
            "operationId": "createDataset",
            "summary": "Create a dataset; the caller becomes its ADMIN (SDK create_dataset).",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["title"],
                            "additionalProperties": False,
                            "properties": {
                                "title": TITLE,
                                "description": {**TEXT, "maxLength": 10000},
                                "createBackingFolder": {"type": "boolean"},
                                "legacyCall": {"type": "boolean"},
                            },
                        }
                    }
                },
            },
            "responses": {
                "200": _json({"$ref": "#/components/schemas/CreateDatasetResponse"}),
                **COMMON_ERRORS,
            },
        }
    },
    "/v2/public/datasets/list": {
        "get": {
            "operationId": "listDatasets",
            "summary": "Datasets the caller may see, newest first (SDK get_datasets).",
            "parameters": [
                _query("titleEq", TEXT),
                _query("titleLike", {**TEXT, "maxLength": 1024}, "SQL LIKE pattern, case-insensitive"),
                _query("descriptionEq", TEXT),
                _query("descriptionLike", {**TEXT, "maxLength": 1024}),
                _query("createdBefore", DATETIME),
                _query("createdAfter", DATETIME),
                _query("editedBefore", DATETIME),
                _query("editedAfter", DATETIME),
                _query("includeOrgAccess", BOOL_QUERY, "Organisation admins: every dataset"),
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["result"],
                        "properties": {
                            "result": {
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/DatasetWithUserRole"},
                            }
                        },
                    }
                ),
                **COMMON_ERRORS,
            },
        }
    },
    "/v2/public/datasets/{dataset_uuid}/users": {
        "get": {
            "operationId": "listDatasetUsers",
            "summary": "Every member of the dataset in one page (SDK dataset.list_users).",
            "parameters": [DATASET_UUID_PARAM],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["results", "next_page_token"],
                        "properties": {
                            "results": {
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/DatasetUser"},
                            },
                            "next_page_token": {"type": "null"},
                        },
                    }
                ),
                "404": _error("No such dataset, or not visible to the caller"),
                **COMMON_ERRORS,
            },
        }
    },
    "/v2/public/datasets/{dataset_uuid}/users/bulk-delete": {
        "post": {
            "operationId": "removeDatasetUsers",
            "summary": "Remove members; unknown addresses are ignored; the last ADMIN stays (SDK remove_users).",
            "parameters": [DATASET_UUID_PARAM],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["userEmails"],
                            "additionalProperties": False,
                            "properties": {"userEmails": {"type": "array", "maxItems": 1000, "items": TEXT}},
                        }
                    }
                },
            },
            "responses": {
                "200": _json({"type": "null"}),
                "403": _error("Only dataset ADMINs manage members"),
                "404": _error("No such dataset, or not visible to the caller"),
                **COMMON_ERRORS,
            },
        }
    },
    "/v2/public/cloud-integrations": {
        "get": {
            "operationId": "listCloudIntegrations",
            "summary": "The caller's cloud integrations (SDK get_cloud_integrations).",
            "parameters": [
                {
                    "name": "filterIntegrationUuids",
                    "in": "query",
                    "required": False,
                    "style": "form",
                    "explode": True,
                    "schema": {"type": "array", "items": UUID},
                },
                {
                    "name": "filterIntegrationTitles",
                    "in": "query",
                    "required": False,
                    "style": "form",
                    "explode": True,
                    "schema": {"type": "array", "items": TEXT},
                },
                _query("includeOrgAccess", BOOL_QUERY),
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["result"],
                        "properties": {
                            "result": {
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/CloudIntegration"},
                            }
                        },
                    }
                ),
                **COMMON_ERRORS,
            },
        }
    },
    "/v2/public/datasets/{dataset_uuid}/data/{data_hash}/frames": {
        "get": {
            "operationId": "getFrameTimestamps",
            "summary": "The video's frame table: presentation time of every frame (datasets_app/api/v2/frames.py).",
            "parameters": [
                DATASET_UUID_PARAM,
                {"name": "data_hash", "in": "path", "required": True, "schema": UUID},
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": [
                            "data_hash",
                            "verdict",
                            "reasons",
                            "fps",
                            "frame_count",
                            "start_time",
                            "time_base",
                            "times",
                        ],
                        "properties": {
                            "data_hash": UUID,
                            "times": {"type": "array", "items": {"type": "number"}},
                        },
                    }
                ),
                "404": _error("No such dataset or video, or not visible to the caller"),
                **COMMON_ERRORS,
            },
        }
    },
    "/v2/public/datasets/{dataset_uuid}/groups": {
        method: {
            "operationId": f"{method}DatasetGroups",
            "summary": "Dataset groups are not supported: always 405.",
            "parameters": [DATASET_UUID_PARAM],
            "responses": {"405": _error("Not supported")},
        }
        for method in ("get", "post", "delete")
    },
    "/v2/public/presigned-urls": {
        "get": {
            "operationId": "getPresignedUploadUrls",
            "summary": "Upload slots: a signed PUT URL and object key each (datasets_app/api/v2/uploads.py).",
            "parameters": [
                {
                    "name": "count",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                },
                {
                    "name": "uploadItemType",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string", "enum": ["video", "image", "dicomFile"]},
                },
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["results", "next_page_token"],
                        "properties": {
                            "results": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["item_uuid", "object_key", "signed_url"],
                                    "properties": {
                                        "item_uuid": UUID,
                                        "object_key": {"type": "string"},
                                        "signed_url": {"type": "string"},
                                        "upload_headers": {"type": ["object", "null"]},
                                    },
                                },
                            },
                            "next_page_token": {"type": "null"},
                        },
                    }
                ),
                **COMMON_ERRORS,
            },
        }
    },
    "/v2/public/user/bearer-token": {
        "get": {
            "operationId": "getBearerToken",
            "summary": "A new 24-hour bearer token for the caller (SDK get_bearer_token).",
            "description": "Only for a request signed with the caller's Ed25519 key: a bearer token "
            "cannot mint another (403). Tokens are listed and revoked on the dashboard's Account page.",
            "security": [{"encordSig": []}],
            "responses": {
                "200": _json(
                    {"type": "object", "required": ["token"], "properties": {"token": {"type": "string"}}}
                ),
                "403": _error("Sent with a bearer token: only an Ed25519-signed request mints one"),
                **COMMON_ERRORS,
            },
        }
    },
}

COMPONENTS: dict[str, Any] = {
    "securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer", "description": "GET /v2/public/user/bearer-token"},
        "encordSig": {
            "type": "apiKey",
            "in": "header",
            "name": "Signature",
            "description": "Ed25519 `encord-sig` over method, request target and Content-Digest, with "
            "Signature-Input and Content-Digest headers (RFC 9421 style; protocol §3.3).",
        },
    },
    "schemas": {
        "JsonObject": {
            "type": "object",
            "propertyNames": TEXT,
            "additionalProperties": {"$ref": "#/components/schemas/JsonValue"},
        },
        "JsonValue": {
            "anyOf": [
                TEXT,
                {"type": ["number", "boolean", "null"]},
                {"type": "array", "items": {"$ref": "#/components/schemas/JsonValue"}},
                {"$ref": "#/components/schemas/JsonObject"},
            ]
        },
        "Error": {
            "type": "object",
            "required": ["message"],
            "properties": {"message": {"type": "string"}, "code": {"type": "string"}},
        },
        "CreateDatasetResponse": {
            "type": "object",
            "required": ["dataset_uuid"],
            "properties": {"dataset_uuid": UUID, "backing_folder_uuid": NULLABLE_UUID},
        },
        "DatasetWithUserRole": {
            "type": "object",
            "required": ["dataset_uuid", "title", "description", "created_at", "last_edited_at", "user_role"],
            "properties": {
                "dataset_uuid": UUID,
                "title": {"type": "string"},
                "description": {"type": "string"},
                "created_at": DATETIME,
                "last_edited_at": DATETIME,
                "user_role": {"enum": ["admin", "user", None]},
                "storage_location": {"type": "integer", "enum": [0, 1, 2, 3, 4]},
                "backing_folder_uuid": NULLABLE_UUID,
            },
        },
        "DatasetUser": {
            "type": "object",
            "required": ["dataset_uuid", "user_email", "user_role"],
            "properties": {
                "dataset_uuid": UUID,
                "user_email": {"type": "string"},
                "user_role": {"type": "integer", "enum": [0, 1]},
            },
        },
        "CloudIntegration": {
            "type": "object",
            "required": ["integration_uuid", "title"],
            "properties": {"integration_uuid": UUID, "title": {"type": "string"}},
        },
    },
}


def document() -> dict[str, Any]:
    """The whole document, with the paths other v2 modules declare in OPENAPI_PATHS."""
    from datasets_app.api import v2

    paths = dict(PATHS)
    for info in sorted(pkgutil.iter_modules(v2.__path__), key=lambda i: i.name):
        if info.name == "openapi":
            continue
        module = importlib.import_module(f"{v2.__name__}.{info.name}")
        paths.update(getattr(module, "OPENAPI_PATHS", {}))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Datasets Dashboard — Encord-compatible v2 API",
            "version": "1",
            "description": "The v2 REST routes the encord SDK (0.1.211) calls. v1 RPC (POST /public, "
            "/public/user) is described in the protocol document, not here.",
        },
        "security": [{"bearer": []}, {"encordSig": []}],
        "paths": paths,
        "components": COMPONENTS,
    }


def openapi_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(document(), json_dumps_params={"ensure_ascii": False})


urlpatterns = [path("v2/public/openapi.json", openapi_json, name="api-v2-openapi")]
