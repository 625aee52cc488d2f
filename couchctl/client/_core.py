"""CoreClient: the server, database and document operations, and no others.

What the fast path's read commands (`db info`, `db exists`, `db list`, `server
info`, `doc get` with --json) use: made without loading the other operation modules
(attachments, views, bulk, replication, users, config, cluster, audit), for
start-up time (bench/README.md, "Start-up"). `CouchClient` is a CoreClient with
every other operation, so what takes a CoreClient takes a CouchClient too.
"""

from __future__ import annotations

from couchctl.client._databases import DatabaseMixin
from couchctl.client._documents import DocumentMixin
from couchctl.client._server import ServerMixin

__all__ = ["CoreClient"]


class CoreClient(ServerMixin, DatabaseMixin, DocumentMixin):
    """An async CouchDB 3.x client for the server, its databases and documents."""
