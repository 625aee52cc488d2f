"""An async client for Apache CouchDB 3.x, built on httpx and anyio.

No printing, no CLI: a library in its own right.

Each name is loaded from its module on first use (PEP 562), so that importing one
part of the client does not load every other: the fast path's read commands load
only the modules of `CoreClient` (start-up time, bench/README.md "Start-up").
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from couchctl.client._attachments import (
        AttachmentDownload,
        AttachmentInfo,
        file_attachment,
        guess_content_type,
    )
    from couchctl.client._audit import AuditCheck
    from couchctl.client._base import JSON_NULL, BaseClient, SizedBody, run_blocking
    from couchctl.client._bulk import DELETED, row_id
    from couchctl.client._client import CouchClient
    from couchctl.client._cluster import NodeStatus, SetupStep
    from couchctl.client._config import REDACTED, is_secret, redact_config
    from couchctl.client._core import CoreClient
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
    from couchctl.client._multipart import RelatedAttachment
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
    "CoreClient",
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
    "SizedBody",
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


# Name -> the module of this package that defines it.
_WHERE = {
    "AttachmentDownload": "_attachments",
    "AttachmentInfo": "_attachments",
    "AuditCheck": "_audit",
    "AuthError": "_errors",
    "BadRequest": "_errors",
    "BaseClient": "_base",
    "ClientError": "_errors",
    "Conflict": "_errors",
    "ConflictError": "_errors",
    "ConnectionFailed": "_errors",
    "CoreClient": "_core",
    "CouchClient": "_client",
    "CouchError": "_errors",
    "DELETED": "_bulk",
    "FIND_PAGE_SIZE": "_views",
    "Forbidden": "_errors",
    "HTTPError": "_errors",
    "IntegrityError": "_errors",
    "InvalidArgument": "_errors",
    "JSON_NULL": "_base",
    "NodeStatus": "_cluster",
    "NotFound": "_errors",
    "PreconditionFailed": "_errors",
    "ProtocolError": "_errors",
    "REDACTED": "_config",
    "REPLICATION_DONE": "_replication",
    "REPLICATION_FAILED": "_replication",
    "RelatedAttachment": "_multipart",
    "RequestTimeout": "_errors",
    "RowStream": "_rows",
    "ServerError": "_errors",
    "SetupStep": "_cluster",
    "SizedBody": "_base",
    "TransportError": "_errors",
    "USER_SECRET_FIELDS": "_users",
    "Unauthorized": "_errors",
    "att_path": "_encoding",
    "check_changes": "_databases",
    "check_copy_destination": "_documents",
    "check_find": "_views",
    "check_revisions": "_documents",
    "db_path": "_encoding",
    "doc_path": "_encoding",
    "dumps": "_encoding",
    "error_for_status": "_errors",
    "file_attachment": "_attachments",
    "guess_content_type": "_attachments",
    "is_public": "_users",
    "is_secret": "_config",
    "mask_endpoint": "_replication",
    "mask_replication": "_replication",
    "redact_config": "_config",
    "row_id": "_bulk",
    "run_blocking": "_base",
    "security_change": "_users",
    "user_doc_id": "_users",
    "validate_db_name": "_encoding",
    "validate_role": "_users",
    "validate_user_name": "_users",
    "without_secrets": "_users",
}


def __getattr__(name: str) -> Any:
    """`name` from its module, on first use."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
