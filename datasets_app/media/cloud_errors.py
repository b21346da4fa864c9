"""The failures of reading a customer's storage; `str()` of each is the message for the job report.

A leaf module (it imports nothing of ours), so the SSRF guard can make its refusal one of them:
`netguard.AddressRefused` is a `CloudError`."""

from __future__ import annotations


class CloudError(Exception):
    """A failure reading from a customer's storage; `str()` is the message for the job report."""


class UnsupportedURL(CloudError):
    """The object URL is malformed or does not belong to this integration."""


class ObjectNotFound(CloudError):
    pass


class AccessDenied(CloudError):
    pass


class Unreachable(CloudError):
    pass

