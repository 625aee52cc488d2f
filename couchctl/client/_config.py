"""Node configuration (`/_node/{node}/_config[/{section}[/{key}]]`).

Every node of a cluster has its own configuration; `_local` names the node that
answers. Values are strings on the wire, a write answers the old value.
`redact_config` hides secrets (the `admins` section, keys named like password or
secret) before anything is shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from couchctl.client._base import BaseClient
from couchctl.client._encoding import segment
from couchctl.client._errors import InvalidArgument

__all__ = ["REDACTED", "ConfigMixin", "is_secret", "redact_config"]

REDACTED = "[redacted]"
_SECRET_SECTIONS = frozenset({"admins"})
_SECRET_WORDS = ("password", "secret")


def is_secret(section: str, key: str) -> bool:
    """Whether a configuration value is a secret (an admin hash, a password, a secret)."""
    lowered = key.lower()
    return section.lower() in _SECRET_SECTIONS or any(word in lowered for word in _SECRET_WORDS)


def redact_config(value: Any, section: str | None = None, key: str | None = None) -> Any:
    """A `_config` answer (all sections, one section, or one value) with secrets replaced."""
    if section is None:
        if not isinstance(value, Mapping):
            return value
        return {name: redact_config(part, name) for name, part in value.items()}
    if key is None:
        if not isinstance(value, Mapping):
            return value
        return {
            name: (REDACTED if is_secret(section, name) else item) for name, item in value.items()
        }
    return REDACTED if is_secret(section, key) else value


def _config_path(node: str, section: str | None = None, key: str | None = None) -> str:
    if not node:
        raise InvalidArgument("a node name cannot be empty")
    path = f"/_node/{segment(node)}/_config"
    if section is not None:
        if not section:
            raise InvalidArgument("a configuration section cannot be empty")
        path += f"/{segment(section)}"
        if key is not None:
            if not key:
                raise InvalidArgument("a configuration key cannot be empty")
            path += f"/{segment(key)}"
    return path


class ConfigMixin(BaseClient):
    """Read and change a node's configuration."""

    async def all_node_names(self) -> list[str]:
        """Every node known to the cluster (`all_nodes` of `GET /_membership`)."""
        membership = await self.request_json("GET", "/_membership")
        return [str(node) for node in membership.get("all_nodes", [])]

    async def check_node(self, node: str) -> str:
        """`node` when it is `_local` or one of `_membership`'s all_nodes, else InvalidArgument."""
        if node == "_local":
            return node
        known = await self.all_node_names()
        if node not in known:
            raise InvalidArgument(f"unknown node {node!r}; known nodes: {', '.join(known)}")
        return node

    async def config_get(
        self, node: str = "_local", section: str | None = None, key: str | None = None
    ) -> Any:
        """The whole configuration, one section, or one value of a node, as stored."""
        return await self.request_json("GET", _config_path(node, section, key))

    async def config_set(self, node: str, section: str, key: str, value: str) -> Any:
        """Set a value (`PUT .../_config/{section}/{key}`); returns the old value ("" if none)."""
        return await self.request_json(
            "PUT", _config_path(node, section, key), json=value, retry=True
        )

    async def config_delete(self, node: str, section: str, key: str) -> Any:
        """Delete a value (`DELETE .../_config/{section}/{key}`); returns the old value."""
        return await self.request_json("DELETE", _config_path(node, section, key))

    async def config_reload(self, node: str = "_local") -> Any:
        """Re-read the configuration files, dropping values not persisted
        (`POST /_node/{node}/_config/_reload`)."""
        return await self.request_json(
            "POST",
            _config_path(node) + "/_reload",
            content=b"",
            headers={"Content-Type": "application/json"},
            retry=True,
        )
