"""CouchClient: every operation, on one httpx.AsyncClient."""

from __future__ import annotations

from couchctl.client._attachments import AttachmentMixin
from couchctl.client._audit import AuditMixin
from couchctl.client._bulk import BulkMixin
from couchctl.client._cluster import ClusterMixin
from couchctl.client._config import ConfigMixin
from couchctl.client._core import CoreClient
from couchctl.client._replication import ReplicationMixin
from couchctl.client._users import UsersMixin
from couchctl.client._views import ViewMixin

__all__ = ["CouchClient"]


class CouchClient(
    CoreClient,
    AttachmentMixin,
    ViewMixin,
    BulkMixin,
    ReplicationMixin,
    UsersMixin,
    ConfigMixin,
    ClusterMixin,
    AuditMixin,
):
    """An async CouchDB 3.x client.

        password = os.environ["COUCHDB_PASSWORD"]
        async with CouchClient("https://couch.example.org", user="admin", password=password) as couch:
            info = await couch.db_info("mydb")

    Names are percent-encoded, parameters sent the way CouchDB documents them,
    failures raised as one error tree (`couchctl.client.errors`), bodies streamed.
    """
