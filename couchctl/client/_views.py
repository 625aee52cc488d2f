"""The views, design documents and Mango (_find, _explain, _index)."""

from __future__ import annotations

from couchctl.client._base import BaseClient

__all__ = ["ViewMixin"]


class ViewMixin(BaseClient):
    """The views, design documents and Mango (_find, _explain, _index)."""
