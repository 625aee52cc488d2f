"""A security audit of a server: what an administrator should not leave open.

Each check is one `AuditCheck` (name, `ok` | `warn` | `fail`, detail). What an
anonymous client may do is tried for real, with requests that carry no
credentials (no Authorization header, no cookie) on the same connection
settings; everything else comes from the node's configuration.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import anyio
import httpx

from couchctl.client._base import BaseClient
from couchctl.client._encoding import db_path
from couchctl.client._errors import HTTPError, NotFound, TransportError

__all__ = ["AuditCheck", "AuditMixin"]

Status = Literal["ok", "warn", "fail"]
_LOOPBACK = ("127.", "::1", "localhost", "0:0:0:0:0:0:0:1")
_ANY_ADDRESS = frozenset({"0.0.0.0", "::", "any", "0:0:0:0:0:0:0:0"})
_DAY = 86400
_SHOWN = 5


@dataclass
class AuditCheck:
    check: str
    status: Status
    detail: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _true(value: Any) -> bool:
    return str(value).strip().lower() == "true"


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")


class AuditMixin(BaseClient):
    """`security_audit()`: admin party, public databases, and risky settings."""

    async def anonymous_request(self, method: str, path: str) -> tuple[int, Any]:
        """Send a request without any credentials; returns (status, parsed body or None)."""
        request = self.http.build_request(method, self.url(path))
        for header in ("Authorization", "Cookie"):
            request.headers.pop(header, None)
        try:
            response = await self.http.send(request, auth=None)
        except httpx.TimeoutException as exc:
            raise TransportError(f"{method} {path}: timed out") from exc
        except httpx.TransportError as exc:
            raise TransportError(f"{method} {path}: {exc}") from exc
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        return response.status_code, body

    async def security_audit(self) -> list[AuditCheck]:
        """Run every check; a check that cannot be made is a `warn` saying why."""
        config: dict[str, Any] | None = None
        config_error = ""
        try:
            config = await self.request_json("GET", "/_node/_local/_config")
        except HTTPError as exc:
            config_error = f"cannot read the configuration: {exc.reason or exc.error or exc.status}"
        checks = [await self._admin_party(config)]
        checks.append(await self._public_databases())

        def section(name: str) -> dict[str, Any]:
            part = (config or {}).get(name)
            return part if isinstance(part, dict) else {}

        if config is None:
            for name in (
                "require_valid_user",
                "cors",
                "bind address",
                "cookie timeout",
                "admin names",
            ):
                checks.append(AuditCheck(name, "warn", config_error))
            return checks
        chttpd, cors = section("chttpd"), section("cors")
        if _true(chttpd.get("require_valid_user")) or _true(
            section("chttpd_auth").get("require_valid_user")
        ):
            checks.append(AuditCheck("require_valid_user", "ok", "every request must authenticate"))
        else:
            checks.append(
                AuditCheck(
                    "require_valid_user",
                    "warn",
                    "off: anonymous requests reach the server ([chttpd] require_valid_user)",
                )
            )
        enabled = _true(chttpd.get("enable_cors")) or _true(section("httpd").get("enable_cors"))
        origins = [o.strip() for o in str(cors.get("origins", "")).split(",") if o.strip()]
        if not enabled:
            checks.append(AuditCheck("cors", "ok", "CORS is off"))
        elif "*" in origins and _true(cors.get("credentials")):
            checks.append(
                AuditCheck(
                    "cors",
                    "fail",
                    "origins * with credentials true: any site can act as a logged-in user",
                )
            )
        elif "*" in origins:
            checks.append(AuditCheck("cors", "warn", "origins *: any site may read public data"))
        else:
            checks.append(AuditCheck("cors", "ok", f"origins: {', '.join(origins) or '(none)'}"))
        bind = str(chttpd.get("bind_address", "127.0.0.1")).strip()
        ssl_on = _true(section("ssl").get("enable"))
        if bind.startswith(_LOOPBACK) or bind == "127.1":
            checks.append(AuditCheck("bind address", "ok", f"{bind}: loopback only"))
        elif ssl_on:
            checks.append(
                AuditCheck("bind address", "warn", f"{bind}: TLS is on, but plain http listens too")
            )
        elif bind in _ANY_ADDRESS:
            checks.append(
                AuditCheck("bind address", "fail", f"{bind}: plain http on every interface, no TLS")
            )
        else:
            checks.append(
                AuditCheck("bind address", "fail", f"{bind}: plain http on a non-loopback address")
            )
        timeout = section("chttpd_auth").get("timeout", "600")
        try:
            seconds = int(str(timeout))
        except ValueError:
            seconds = -1
        if seconds > _DAY:
            checks.append(
                AuditCheck("cookie timeout", "warn", f"{seconds} s: sessions last more than a day")
            )
        else:
            checks.append(AuditCheck("cookie timeout", "ok", f"{timeout} s"))
        weak = sorted(name for name in section("admins") if name.lower() in ("admin", "couchdb"))
        if weak:
            checks.append(
                AuditCheck("admin names", "warn", f"guessable admin name: {', '.join(weak)}")
            )
        else:
            checks.append(AuditCheck("admin names", "ok", "no admin named admin or couchdb"))
        return checks

    async def _admin_party(self, config: dict[str, Any] | None) -> AuditCheck:
        _, body = await self.anonymous_request("GET", "/_session")
        roles = (
            ((body or {}).get("userCtx") or {}).get("roles") or [] if isinstance(body, dict) else []
        )
        if "_admin" in roles:
            return AuditCheck("admin party", "fail", "anonymous requests are server admin")
        if config is not None and not config.get("admins"):
            return AuditCheck("admin party", "fail", "no server admin is configured")
        return AuditCheck("admin party", "ok", "anonymous requests are not admin")

    async def _public_databases(self) -> AuditCheck:
        names: list[str] = await self.request_json("GET", "/_all_dbs")
        readable: list[str] = []
        open_members: list[str] = []
        limit = anyio.Semaphore(8)

        async def probe(name: str) -> None:
            async with limit:
                status, _ = await self.anonymous_request("GET", db_path(name))
                if status == 200:
                    readable.append(name)
                    return
                if name.startswith("_"):
                    return
                try:
                    security = await self.request_json("GET", f"{db_path(name)}/_security")
                except NotFound:  # deleted since _all_dbs listed it
                    return
                members = security.get("members") or {}
                if not (members.get("names") or members.get("roles")):
                    open_members.append(name)

        async with anyio.create_task_group() as group:
            for name in names:
                group.start_soon(probe, name)
        if readable:
            readable.sort()
            return AuditCheck(
                "public databases",
                "fail",
                f"{len(readable)} readable without credentials: {_names(readable)}",
            )
        if open_members:
            open_members.sort()
            return AuditCheck(
                "public databases",
                "warn",
                f"{len(open_members)} with no members (any authenticated user reads them): "
                f"{_names(open_members)}",
            )
        return AuditCheck("public databases", "ok", f"{len(names)} databases, none public")
