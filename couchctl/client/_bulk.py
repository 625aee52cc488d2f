"""The _bulk_docs, _bulk_get and the paging used by bulk load and dump."""

from __future__ import annotations

from couchctl.client._base import BaseClient

__all__ = ["BulkMixin"]


class BulkMixin(BaseClient):
    """The _bulk_docs, _bulk_get and the paging used by bulk load and dump."""
