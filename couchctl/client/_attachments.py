"""The attachment operations, streamed both ways."""

from __future__ import annotations

from couchctl.client._base import BaseClient

__all__ = ["AttachmentMixin"]


class AttachmentMixin(BaseClient):
    """The attachment operations, streamed both ways."""
