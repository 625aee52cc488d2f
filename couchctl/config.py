"""Settings: command-line flags > environment > profile file > defaults.

The profile file is TOML: each table is a profile, `[default]` is used when no
profile is named.

    [default]
    url = "http://127.0.0.1:5984"
    user = "admin"

    [prod]
    url = "https://couch.example.org"
    token = "..."
    timeout = 60
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = [
    "DEFAULT_URL",
    "ConfigError",
    "Settings",
    "config_path",
    "load_settings",
    "mask_url",
]

DEFAULT_URL = "http://127.0.0.1:5984"
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3


class ConfigError(Exception):
    """The configuration (file, environment or flag) is unusable."""


def mask_url(url: str) -> str:
    """`url` with any password replaced by `***`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username or ''}:***@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def _split_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """Return the URL without userinfo, and the user and password it carried."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None, None
    netloc = parts.netloc.rsplit("@", 1)[1]
    bare = urlunsplit(parts._replace(netloc=netloc))
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return bare, user, password


@dataclass(frozen=True)
class Settings:
    """Everything needed to reach one server. `url` never carries credentials."""

    url: str = DEFAULT_URL
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT
    cacert: str | None = None
    insecure: bool = False
    retries: int = DEFAULT_RETRIES
    profile: str | None = None

    def __repr__(self) -> str:
        return (
            f"Settings(url={self.url!r}, user={self.user!r}, "
            f"password={'***' if self.password else None}, "
            f"token={'***' if self.token else None}, timeout={self.timeout!r}, "
            f"cacert={self.cacert!r}, insecure={self.insecure!r}, "
            f"retries={self.retries!r}, profile={self.profile!r})"
        )

    @property
    def display_url(self) -> str:
        """The server URL as it may be shown (never with a password)."""
        return self.url

    def with_password(self, password: str) -> Settings:
        return replace(self, password=password)


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("COUCHCTL_CONFIG"):
        return Path(env["COUCHCTL_CONFIG"])
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "couchctl" / "config.toml"


def _read_profile(
    name: str | None, environ: Mapping[str, str]
) -> tuple[dict[str, Any], str | None]:
    path = config_path(environ)
    if not path.exists():
        if name is not None:
            raise ConfigError(f"profile {name!r} not found: {path} does not exist")
        return {}, None
    import tomllib  # only when there is a file to read

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    wanted = name or "default"
    table = data.get(wanted)
    if table is None:
        if name is not None:
            raise ConfigError(f"profile {name!r} not found in {path}")
        return {}, None
    if not isinstance(table, dict):
        raise ConfigError(f"profile {wanted!r} in {path} is not a table")
    return table, wanted


def _to_float(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{what} must be a number of seconds, got {value!r}") from exc
    if number <= 0:
        raise ConfigError(f"{what} must be positive, got {value!r}")
    return number


def _expand(path: Any) -> str | None:
    return None if path is None else os.path.expanduser(str(path))


def _first(*values: Any) -> Any:
    for value in values:
        if value is not None and value != "":
            return value
    return None


def load_settings(
    *,
    url: str | None = None,
    user: str | None = None,
    token: str | None = None,
    profile: str | None = None,
    timeout: float | None = None,
    cacert: str | None = None,
    insecure: bool | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve the settings: the arguments (flags) win over the environment,
    which wins over the profile file, which wins over the defaults."""
    env = os.environ if environ is None else environ
    profile_name = _first(profile, env.get("COUCHCTL_PROFILE"))
    table, used_profile = _read_profile(profile_name, env)

    # The level (0 flag, 1 environment, 2 profile, 3 default) that gave the URL: a
    # user:password inside it ranks with that level.
    url_sources = (url, _first(env.get("COUCH_URL"), env.get("COUCHDB_URL")), table.get("url"))
    url_level = next((i for i, v in enumerate(url_sources) if _first(v) is not None), 3)
    raw_url = str(url_sources[url_level]) if url_level < 3 else DEFAULT_URL
    if not raw_url.startswith(("http://", "https://")):
        raise ConfigError(
            f"the server URL must start with http:// or https://: {mask_url(raw_url)}"
        )
    bare_url, url_user, url_password = _split_userinfo(raw_url.rstrip("/"))
    if not urlsplit(bare_url).hostname:
        raise ConfigError(f"the server URL has no host: {mask_url(raw_url)}")

    users = [user, env.get("COUCHDB_USER"), table.get("user")]
    if url_user is not None and url_level < 3:
        users.insert(url_level + 1, url_user)  # after that level's own user setting
        url_user_index = url_level + 1
    else:
        url_user_index = -1
    user_index = next((i for i, v in enumerate(users) if _first(v) is not None), -1)
    resolved_user = users[user_index] if user_index >= 0 else None
    # COUCHDB_PASSWORD / the profile's password / the URL's password, whichever
    # belongs to the user chosen: the URL's password goes with the URL's user.
    password: str | None
    if user_index == url_user_index and user_index >= 0 and url_password is not None:
        password = url_password
    else:
        password = _first(env.get("COUCHDB_PASSWORD"), table.get("password"))
        if password is None and url_user is not None and resolved_user == url_user:
            password = url_password

    raw_timeout = _first(timeout, env.get("COUCHCTL_TIMEOUT"), table.get("timeout"))
    profile_insecure = table.get("insecure", False)
    if not isinstance(profile_insecure, bool):
        raise ConfigError(f"insecure must be true or false, got {profile_insecure!r}")
    raw_insecure = insecure if insecure else profile_insecure
    retries = table.get("retries", DEFAULT_RETRIES)
    if not isinstance(retries, int) or retries < 0:
        raise ConfigError(f"retries must be a whole number >= 0, got {retries!r}")

    return Settings(
        url=bare_url,
        user=resolved_user,
        password=password,
        token=_first(token, env.get("COUCHDB_TOKEN"), table.get("token")),
        timeout=DEFAULT_TIMEOUT if raw_timeout is None else _to_float(raw_timeout, "timeout"),
        cacert=_expand(_first(cacert, table.get("cacert"))),
        insecure=raw_insecure,
        retries=retries,
        profile=used_profile,
    )
