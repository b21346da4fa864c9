"""Typed errors of the SDK layer, with Encord's names. Edges map them once (api/errors.py,
dashboard/errors.py); nothing else catches them except to add context."""

from __future__ import annotations

from typing import Any


class DatasetsError(Exception):
    """Base class: a stable `code`, a message a person can act on, and structured `fields`."""

    code = "UNKNOWN_ERROR"
    default_message = "Something went wrong."

    def __init__(self, message: str | None = None, **fields: Any) -> None:
        self.message = message or self.default_message
        self.fields = fields
        super().__init__(self.message)


class AuthenticationError(DatasetsError):
    code = "AUTHENTICATION_ERROR"
    default_message = "Authentication failed: check your key or sign in again."


class AuthorisationError(DatasetsError):
    code = "AUTHORISATION_ERROR"
    default_message = "You are not authorised to do this on this dataset."


class ResourceNotFoundError(DatasetsError):
    code = "RESOURCE_NOT_FOUND_ERROR"
    default_message = "The requested resource was not found."


class InvalidArgumentError(DatasetsError):
    code = "INVALID_ARGUMENTS_ERROR"
    default_message = "Invalid arguments."


# Encord's client spells it with an "s"; both names work.
InvalidArgumentsError = InvalidArgumentError


class OperationNotAllowed(DatasetsError):
    code = "OPERATION_NOT_ALLOWED"
    default_message = "The read/write operation is not allowed by the API key."


class ResourceExistsError(DatasetsError):
    code = "RESOURCE_EXISTS_ERROR"
    default_message = "The resource already exists."


class MethodNotAllowedError(DatasetsError):
    code = "METHOD_NOT_ALLOWED_ERROR"
    default_message = "This operation is not supported."


class RateLimitExceededError(DatasetsError):
    code = "RATE_LIMIT_ERROR"
    default_message = "Too many requests: slow down and retry later."


class PayloadTooLargeError(DatasetsError):
    code = "PAYLOAD_TOO_LARGE"
    default_message = "The request is too large."


class FileTypeNotSupportedError(DatasetsError):
    code = "FILE_TYPE_NOT_SUPPORTED_ERROR"
    default_message = "This file type is not supported."


class UploadOperationNotSupportedError(DatasetsError):
    code = "UPLOAD_OPERATION_NOT_SUPPORTED_ERROR"
    default_message = "This upload operation is not supported for this dataset."


class DuplicateSshKeyError(DatasetsError):
    code = "DUPLICATE_SSH_KEY_ERROR"
    default_message = "This public key is already registered."
