"""The database operations (create, delete, info, _all_docs, _changes, _compact, _security, ...)."""

from __future__ import annotations

from couchctl.client._base import BaseClient

__all__ = ["DatabaseMixin"]


class DatabaseMixin(BaseClient):
    """The database operations (create, delete, info, _all_docs, _changes, _compact, _security, ...)."""
