"""The server endpoints (/, /_up, /_all_dbs, /_dbs_info, /_uuids, /_active_tasks, /_membership)."""

from __future__ import annotations

from couchctl.client._base import BaseClient

__all__ = ["ServerMixin"]


class ServerMixin(BaseClient):
    """The server endpoints (/, /_up, /_all_dbs, /_dbs_info, /_uuids, /_active_tasks, /_membership)."""
