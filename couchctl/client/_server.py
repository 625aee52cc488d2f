"""The server endpoints (/, /_up, /_all_dbs, /_dbs_info, /_uuids, /_active_tasks, /_membership)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from couchctl.client._base import BaseClient
from couchctl.client._encoding import db_path, query
from couchctl.client._errors import NotFound

__all__ = ["DBS_INFO_CHUNK", "DB_INFO_CONCURRENCY", "ServerMixin"]

# CouchDB refuses more names than this in one POST /_dbs_info
# (max_db_number_for_dbs_info_req, 100 by default).
DBS_INFO_CHUNK = 100
# Parallel GET /{db} for `databases_info` on a server without /_dbs_info.
DB_INFO_CONCURRENCY = 4

# Parameters of /_all_dbs and GET /_dbs_info whose values are JSON on the wire.
_RANGE_JSON = ("startkey", "endkey")


def _range_params(
    descending: bool | None,
    start_key: str | None,
    end_key: str | None,
    limit: int | None,
    skip: int | None,
) -> list[tuple[str, str]]:
    """The paging query of `/_all_dbs` and `GET /_dbs_info` (the names JSON-encoded)."""
    return query(
        {
            "descending": descending,
            "startkey": start_key,
            "endkey": end_key,
            "limit": limit,
            "skip": skip,
        },
        json_params=_RANGE_JSON,
    )


class ServerMixin(BaseClient):
    """The server endpoints (/, /_up, /_all_dbs, /_dbs_info, /_uuids, /_active_tasks, /_membership)."""

    async def server_info(self) -> Any:
        """The welcome object of `GET /`: version, git_sha, uuid, features, vendor."""
        return await self.request_json("GET", "/")

    async def server_up(self) -> Any:
        """The health check `GET /_up`: `{"status": "ok", ...}`.

        A node in maintenance mode answers 404 (`"status": "maintenance_mode"` or
        `"nolb"`), raised as NotFound like any other error status.
        """
        return await self.request_json("GET", "/_up")

    async def all_dbs(
        self,
        *,
        descending: bool | None = None,
        start_key: str | None = None,
        end_key: str | None = None,
        limit: int | None = None,
        skip: int | None = None,
    ) -> list[str]:
        """The names of every database (`GET /_all_dbs`), sorted, optionally a range or page.

        `start_key` / `end_key` are database names, sent JSON-encoded as
        `startkey` / `endkey`.
        """
        params = _range_params(descending, start_key, end_key, limit, skip)
        names: list[str] = await self.request_json("GET", "/_all_dbs", params=params)
        return names

    async def dbs_info(
        self,
        keys: Sequence[str] | None = None,
        *,
        descending: bool | None = None,
        start_key: str | None = None,
        end_key: str | None = None,
        limit: int | None = None,
        skip: int | None = None,
    ) -> list[Any]:
        """Information about several databases: `[{"key": name, "info": {...}}, ...]`.

        With `keys`: `POST /_dbs_info {"keys": [...]}` (a missing database gives
        `{"key": name, "error": "not_found"}`; CouchDB accepts at most
        `max_db_number_for_dbs_info_req`, 100 by default, per request). Without:
        `GET /_dbs_info`, paged like `/_all_dbs`.
        """
        if keys is not None:
            result: list[Any] = await self.request_json(
                "POST", "/_dbs_info", json={"keys": list(keys)}, retry=True
            )
            return result
        params = _range_params(descending, start_key, end_key, limit, skip)
        result = await self.request_json("GET", "/_dbs_info", params=params)
        return result

    async def databases_info(self, names: Sequence[str] | None = None) -> list[Any]:
        """Information about every database (or those in `names`), in order:
        `[{"key": name, "info": {...}} | {"key": name, "error": "not_found"}, ...]`.

        `POST /_dbs_info` in chunks of `DBS_INFO_CHUNK` names. A server without
        `/_dbs_info` (404: CouchDB before 2.2, some compatible servers) is asked
        `GET /{db}` for each name instead, `DB_INFO_CONCURRENCY` at a time, with
        the same entries as the answer.
        """
        wanted = list(await self.all_dbs() if names is None else names)
        entries: list[Any] = []
        try:
            for start in range(0, len(wanted), DBS_INFO_CHUNK):
                entries.extend(await self.dbs_info(wanted[start : start + DBS_INFO_CHUNK]))
            return entries
        except NotFound:
            pass

        found: dict[str, Any] = {}

        async def one(name: str) -> None:
            try:
                found[name] = {"key": name, "info": await self.request_json("GET", db_path(name))}
            except NotFound:
                found[name] = {"key": name, "error": "not_found"}

        if self.blocking:  # no event loop: one at a time
            for name in wanted:
                await one(name)
        else:
            import anyio

            limiter = anyio.CapacityLimiter(DB_INFO_CONCURRENCY)

            async def limited(name: str) -> None:
                async with limiter:
                    await one(name)

            async with anyio.create_task_group() as group:
                for name in wanted:
                    group.start_soon(limited, name)
        return [found[name] for name in wanted]

    async def uuids(self, count: int | None = None) -> Any:
        """New UUIDs from the server (`GET /_uuids`): `{"uuids": [...]}`."""
        return await self.request_json("GET", "/_uuids", params=query({"count": count}))

    async def active_tasks(self) -> list[Any]:
        """The running tasks (`GET /_active_tasks`): compactions, indexers, replications."""
        tasks: list[Any] = await self.request_json("GET", "/_active_tasks")
        return tasks

    async def membership(self) -> Any:
        """The cluster's nodes (`GET /_membership`): `all_nodes` and `cluster_nodes`."""
        return await self.request_json("GET", "/_membership")
