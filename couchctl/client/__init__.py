"""An async client for Apache CouchDB 3.x, built on httpx and anyio.

No printing, no CLI: a library in its own right.
"""

from typing import TYPE_CHECKING, Any

from couchctl.client._attachments import (
    AttachmentDownload,
    AttachmentInfo,
    file_attachment,
    guess_content_type,
)
from couchctl.client._audit import AuditCheck
from couchctl.client._base import JSON_NULL, BaseClient, run_blocking
from couchctl.client._bulk import DELETED, row_id
from couchctl.client._client import CouchClient
from couchctl.client._cluster import NodeStatus, SetupStep
from couchctl.client._config import REDACTED, is_secret, redact_config
from couchctl.client._databases import check_changes
from couchctl.client._documents import check_copy_destination, check_revisions
from couchctl.client._encoding import att_path, db_path, doc_path, dumps, validate_db_name
from couchctl.client._errors import (
    AuthError,
    BadRequest,
    ClientError,
    Conflict,
    ConflictError,
    ConnectionFailed,
    CouchError,
    Forbidden,
    HTTPError,
    IntegrityError,
    InvalidArgument,
    NotFound,
    PreconditionFailed,
    ProtocolError,
    RequestTimeout,
    ServerError,
    TransportError,
    Unauthorized,
    error_for_status,
)
from couchctl.client._replication import (
    REPLICATION_DONE,
    REPLICATION_FAILED,
    mask_endpoint,
    mask_replication,
)
from couchctl.client._rows import RowStream
from couchctl.client._users import (
    USER_SECRET_FIELDS,
    is_public,
    security_change,
    user_doc_id,
    validate_role,
    validate_user_name,
    without_secrets,
)
from couchctl.client._views import FIND_PAGE_SIZE, check_find

if TYPE_CHECKING:
    from couchctl.client._multipart import RelatedAttachment

__all__ = [
    "DELETED",
    "FIND_PAGE_SIZE",
    "JSON_NULL",
    "REDACTED",
    "REPLICATION_DONE",
    "REPLICATION_FAILED",
    "USER_SECRET_FIELDS",
    "AttachmentDownload",
    "AttachmentInfo",
    "AuditCheck",
    "AuthError",
    "BadRequest",
    "BaseClient",
    "ClientError",
    "Conflict",
    "ConflictError",
    "ConnectionFailed",
    "CouchClient",
    "CouchError",
    "Forbidden",
    "HTTPError",
    "IntegrityError",
    "InvalidArgument",
    "NodeStatus",
    "NotFound",
    "PreconditionFailed",
    "ProtocolError",
    "RelatedAttachment",
    "RequestTimeout",
    "RowStream",
    "ServerError",
    "SetupStep",
    "TransportError",
    "Unauthorized",
    "att_path",
    "check_changes",
    "check_copy_destination",
    "check_find",
    "check_revisions",
    "db_path",
    "doc_path",
    "dumps",
    "error_for_status",
    "file_attachment",
    "guess_content_type",
    "is_public",
    "is_secret",
    "mask_endpoint",
    "mask_replication",
    "redact_config",
    "row_id",
    "run_blocking",
    "security_change",
    "user_doc_id",
    "validate_db_name",
    "validate_role",
    "validate_user_name",
    "without_secrets",
]


def __getattr__(name: str) -> Any:
    """`RelatedAttachment` on first use: the multipart module is loaded only by the
    commands that send or receive multipart bodies (start-up of the others)."""
    if name == "RelatedAttachment":
        from couchctl.client._multipart import RelatedAttachment

        return RelatedAttachment
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
