"""The SDK layer: every view, API endpoint and task goes through here.

`UserClient` and `Dataset` are named and shaped after Encord's SDK; `policy` decides who may do what.
"""

from .client import UserClient
from .dataset import Dataset
from .policy import Principal

__all__ = ["Dataset", "Principal", "UserClient"]
