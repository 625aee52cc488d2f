"""Users: `_users` documents (`org.couchdb.user:NAME`), server admins in each
node's configuration, and read-modify-write of a database's `_security`.

A password goes to the server once, in the document's `password` member (CouchDB
hashes it on write); nothing here returns it. `without_secrets` drops the hash
members of a user document before anyone shows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from couchctl.client._base import BaseClient
from couchctl.client._encoding import db_path, doc_path, query, segment
from couchctl.client._errors import CouchError, InvalidArgument

__all__ = [
    "USER_PREFIX",
    "USER_SECRET_FIELDS",
    "UsersMixin",
    "is_public",
    "security_change",
    "user_doc_id",
    "validate_role",
    "validate_user_name",
    "without_secrets",
]

USER_PREFIX = "org.couchdb.user:"
# Members of a user document that are (or derive from) the password.
USER_SECRET_FIELDS = frozenset(
    {
        "password",
        "derived_key",
        "salt",
        "password_scheme",
        "iterations",
        "pbkdf2_prf",
        "password_sha",
    }
)


def validate_user_name(name: Any) -> str:
    """A user name CouchDB accepts: a non-empty string without `:` (the id separator)."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgument("a user name must be a non-empty string")
    if ":" in name:
        raise InvalidArgument(f"a user name cannot contain ':': {name!r}")
    return name


def validate_role(role: Any) -> str:
    """A role: a non-empty string."""
    if not isinstance(role, str) or not role.strip():
        raise InvalidArgument("a role must be a non-empty string")
    return role


def user_doc_id(name: str) -> str:
    return USER_PREFIX + validate_user_name(name)


def without_secrets(doc: Any) -> Any:
    """A user document without its password, hash, salt and hashing parameters."""
    if not isinstance(doc, Mapping):
        return doc
    return {key: value for key, value in doc.items() if key not in USER_SECRET_FIELDS}


def _merge(existing: Any, add: Iterable[str], remove: Iterable[str]) -> list[str]:
    current = (
        [item for item in existing if isinstance(item, str)] if isinstance(existing, list) else []
    )
    kept = [item for item in current if item not in set(remove)]
    kept.extend(item for item in add if item not in kept)
    return kept


def security_change(
    security: Mapping[str, Any],
    section: Literal["members", "admins"],
    *,
    grant: bool,
    names: Sequence[str] = (),
    roles: Sequence[str] = (),
) -> dict[str, Any]:
    """`security` with `names`/`roles` added to (grant) or removed from (revoke)
    `section`; everything else kept as it was."""
    result = {key: value for key, value in security.items()}
    part = dict(result.get(section) or {})
    add_names, add_roles = (names, roles) if grant else ((), ())
    drop_names, drop_roles = ((), ()) if grant else (names, roles)
    part["names"] = _merge(part.get("names"), add_names, drop_names)
    part["roles"] = _merge(part.get("roles"), add_roles, drop_roles)
    result[section] = part
    other = "admins" if section == "members" else "members"
    if other not in result:
        result[other] = {"names": [], "roles": []}
    return result


def is_public(security: Mapping[str, Any]) -> bool:
    """Whether anyone may read the database: its members have no names and no roles."""
    members = security.get("members")
    if not isinstance(members, Mapping):
        return True
    return not (members.get("names") or members.get("roles"))


class UsersMixin(BaseClient):
    """`_users` documents, server admins, and `_security` grants."""

    async def user_get(self, name: str) -> Any:
        """The user document of `name` (`GET /_users/org.couchdb.user:NAME`), as stored."""
        return await self.request_json("GET", doc_path("_users", user_doc_id(name)))

    async def user_list(self) -> list[Any]:
        """Every user document, secrets removed (`GET /_users/_all_docs?include_docs=true`)."""
        params = query(
            {"include_docs": True, "startkey": USER_PREFIX, "endkey": USER_PREFIX + "\ufff0"},
            json_params=("startkey", "endkey"),
        )
        result = await self.request_json("GET", "/_users/_all_docs", params=params)
        return [without_secrets(row["doc"]) for row in result.get("rows", []) if row.get("doc")]

    async def user_create(self, name: str, password: str, *, roles: Sequence[str] = ()) -> Any:
        """Create a user (`PUT /_users/org.couchdb.user:NAME`); CouchDB hashes the password."""
        doc_id = user_doc_id(name)
        if not password:
            raise InvalidArgument("a password cannot be empty")
        doc = {
            "_id": doc_id,
            "name": name,
            "type": "user",
            "roles": [validate_role(role) for role in roles],
            "password": password,
        }
        return await self.request_json("PUT", doc_path("_users", doc_id), json=doc)

    async def user_update(self, name: str, change: Mapping[str, Any]) -> Any:
        """Read the user document, apply `change` (None deletes a member), write it back."""
        doc_id = user_doc_id(name)
        doc = await self.request_json("GET", doc_path("_users", doc_id))
        for key, value in change.items():
            if value is None:
                doc.pop(key, None)
            else:
                doc[key] = value
        return await self.request_json("PUT", doc_path("_users", doc_id), json=doc)

    async def user_set_password(self, name: str, password: str) -> Any:
        """Change a user's password (read-modify-write of the user document)."""
        if not password:
            raise InvalidArgument("a password cannot be empty")
        return await self.user_update(name, {"password": password})

    async def user_roles(
        self, name: str, *, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> list[str]:
        """Add and remove roles of a user; returns the resulting roles."""
        for role in [*add, *remove]:
            validate_role(role)
        doc_id = user_doc_id(name)
        doc = await self.request_json("GET", doc_path("_users", doc_id))
        roles = _merge(doc.get("roles"), add, remove)
        if roles != doc.get("roles"):
            doc["roles"] = roles
            await self.request_json("PUT", doc_path("_users", doc_id), json=doc)
        return roles

    async def user_delete(self, name: str) -> Any:
        """Delete a user document at its current revision."""
        doc_id = user_doc_id(name)
        doc = await self.request_json("GET", doc_path("_users", doc_id))
        return await self.request_json(
            "DELETE", doc_path("_users", doc_id), params=query({"rev": doc["_rev"]})
        )

    async def cluster_node_names(self, *, all_connected: bool = False) -> list[str]:
        """The nodes of the cluster (`cluster_nodes` of `GET /_membership`).

        With `all_connected`, a node that the answering node is not connected to (in
        `cluster_nodes` but not `all_nodes`: stopped or cut off) is a CouchError, so
        that a change meant for every node is refused before any node is changed."""
        membership = await self.request_json("GET", "/_membership")
        nodes = [str(node) for node in membership.get("cluster_nodes", [])]
        if all_connected:
            connected = {str(node) for node in membership.get("all_nodes", [])}
            down = [node for node in nodes if node not in connected]
            if down:
                raise CouchError(
                    f"not connected to the cluster: {', '.join(down)}; nothing was changed "
                    "(see couchctl cluster status)"
                )
        return nodes

    async def admin_create(self, name: str, password: str) -> dict[str, Any]:
        """Make `name` a server admin on every node
        (`PUT /_node/{node}/_config/admins/{name}`); returns {node: old value}."""
        validate_user_name(name)
        if not password:
            raise InvalidArgument("a password cannot be empty")
        old: dict[str, Any] = {}
        for node in await self.cluster_node_names(all_connected=True):
            old[node] = await self.request_json(
                "PUT",
                f"/_node/{segment(node)}/_config/admins/{segment(name)}",
                json=password,
                retry=True,
            )
        return old

    async def security_grant(
        self,
        db: str,
        section: Literal["members", "admins"],
        *,
        grant: bool = True,
        names: Sequence[str] = (),
        roles: Sequence[str] = (),
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Grant (or revoke) `names`/`roles` in `section` of a database's `_security`
        by read-modify-write; returns (before, after). Nothing is written when
        nothing changes."""
        for name in names:
            validate_user_name(name)
        for role in roles:
            validate_role(role)
        before = await self.request_json("GET", f"{db_path(db)}/_security")
        after = security_change(before, section, grant=grant, names=names, roles=roles)
        if after != before:
            await self.request_json("PUT", f"{db_path(db)}/_security", json=after, retry=True)
        return before, after
