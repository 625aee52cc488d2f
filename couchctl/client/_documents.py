"""The document operations (get, put, create, delete, copy, exists)."""

from __future__ import annotations

from couchctl.client._base import BaseClient

__all__ = ["DocumentMixin"]


class DocumentMixin(BaseClient):
    """The document operations (get, put, create, delete, copy, exists)."""
