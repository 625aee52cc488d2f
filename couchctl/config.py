"""Settings: command-line flags > environment > profile file > defaults.

The profile file is TOML: each table is a profile, `[default]` is used when no
profile is named.

Credentials belong to their URL: a profile's `user`, `password`, `token`,
`cacert` and `insecure` apply only when the server URL is the profile's own
(`url`, or the default URL when it has none). A user:password inside a URL
is a pair that goes with that URL only.

    [default]
    url = "http://127.0.0.1:5984"
    user = "admin"

    [prod]
    url = "https://couch.example.org"
    token = "..."
    timeout = 60
"""

from __future__ import annotations

import math
import os
import re
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
    "is_loopback",
    "load_settings",
    "mask_text",
    "mask_url",
    "read_secret_file",
]

DEFAULT_URL = "http://127.0.0.1:5984"
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 6  # the client's schedule: see couchctl/client/_base.py


class ConfigError(Exception):
    """The configuration (file, environment or flag) is unusable."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


_PERCENT_HINT = (
    "percent-encode special characters of the user and password in a URL "
    "(@ as %40, : as %3A, / as %2F, # as %23, ? as %3F), or give the password "
    "with COUCHDB_PASSWORD or --password-file"
)


def _mask_userinfo(userinfo: str) -> str:
    user, colon, _ = userinfo.partition(":")
    if colon or not user or any(c in user for c in "@/?#"):
        # A password, or something that may hold one: keep only a plain user name.
        clean = user and not any(c in user for c in "@/?#")
        return f"{user}:***" if clean else "***"
    return user


def mask_url(url: str) -> str:
    """`url` with everything between the scheme and the last `@` masked (the
    password, whatever it holds and whatever the scheme; a plain user name stays)."""
    scheme_end = url.find("://")
    start = scheme_end + 3 if scheme_end >= 0 else 0
    at = url.rfind("@")
    if at < start:
        return url
    return f"{url[:start]}{_mask_userinfo(url[start:at])}{url[at:]}"


# scheme://anything-up-to-the-last-@-of-the-word@
_URL_WITH_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>\S*)@")


def mask_text(text: str) -> str:
    """`text` with the userinfo of every URL in it masked (see `mask_url`)."""
    if "@" not in text or "://" not in text:
        return text
    return _URL_WITH_USERINFO.sub(lambda m: f"{m['scheme']}{_mask_userinfo(m['userinfo'])}@", text)


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine: localhost, 127.0.0.0/8 or ::1."""
    import ipaddress

    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


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


def _check_url(raw: str, source: str) -> tuple[str, str | None, str | None]:
    """The URL (from `source`, for messages) without userinfo, and the user and
    password it carried; ConfigError, with a masked URL, when it is unusable."""
    shown = mask_url(raw)
    if not raw.startswith(("http://", "https://")):
        hint = "write it as http://HOST:PORT or https://HOST:PORT (a path prefix is fine)"
        raise ConfigError(
            f"the server URL must start with http:// or https:// ({source}): {shown}", hint
        )
    parts = urlsplit(raw)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        # Not the ValueError's text: it quotes the "port", which may be a piece of
        # a password holding a / or # (http://admin:pa/ss@host).
        raise ConfigError(
            f"the server URL is malformed: its port is not a number ({source}): {shown}",
            _PERCENT_HINT,
        ) from None
    if "@" in raw[len(parts.scheme) + 3 + len(parts.netloc) :]:
        # http://admin:pa/ss@host: the password's / ends the host part.
        raise ConfigError(
            f"the server URL has an @ after its host ({source}): {shown}", _PERCENT_HINT
        )
    bare, user, password = _split_userinfo(raw.rstrip("/"))
    if not urlsplit(bare).hostname:
        raise ConfigError(f"the server URL has no host ({source}): {shown}", _PERCENT_HINT)
    return bare, user, password


def _same_url(a: str, b: str) -> bool:
    """Whether two credential-free URLs name the same server and path prefix."""
    pa, pb = urlsplit(a), urlsplit(b)
    default = {"http": 80, "https": 443}

    def key(p: Any) -> tuple[str, str, int | None, str]:
        return (
            p.scheme.lower(),
            (p.hostname or "").lower(),
            p.port or default.get(p.scheme.lower()),
            p.path.rstrip("/"),
        )

    return key(pa) == key(pb)


@dataclass(frozen=True)
class Settings:
    """Everything needed to reach one server. `url` never carries credentials.

    `warnings` are what the caller should say before using the settings (a config
    file with secrets readable by others)."""

    url: str = DEFAULT_URL
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT
    cacert: str | None = None
    insecure: bool = False
    retries: int = DEFAULT_RETRIES
    profile: str | None = None
    warnings: tuple[str, ...] = field(default=(), compare=False)
    # Where each setting came from ("--url", "COUCH_URL", "profile prod in PATH",
    # "default"), for hints and `server whoami`; never the secret itself.
    sources: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    config_file: str | None = field(default=None, compare=False)

    def source_of(self, name: str) -> str | None:
        """Where setting `name` (url, user, password, token, timeout, ...) came from."""
        return dict(self.sources).get(name)

    @property
    def url_source(self) -> str:
        """Where the server URL came from, as a user would name it."""
        return self.source_of("url") or "default"

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
        sources = tuple((k, v) for k, v in self.sources if k != "password")
        return replace(self, password=password, sources=(*sources, ("password", "prompt")))

    def send_warnings(self) -> list[str]:
        """What to say before sending anything with these settings: secrets over
        plain http to another machine, certificate verification turned off."""
        said: list[str] = []
        parts = urlsplit(self.url)
        secret = "a token" if self.token else ("a password" if self.password else "")
        if secret and parts.scheme == "http" and not is_loopback(parts.hostname or ""):
            said.append(
                f"sending {secret} over plain http to {parts.hostname}: anyone on the "
                "network can read it (use https://)"
            )
        if self.insecure:
            said.append(
                "TLS certificate verification is off (--insecure): the server is not authenticated"
            )
        return said


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("COUCHCTL_CONFIG"):
        return Path(env["COUCHCTL_CONFIG"])
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "couchctl" / "config.toml"


def read_secret_file(path: str, what: str) -> str:
    """The first line of a file holding a password or token (its newline stripped)."""
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as handle:
            line = handle.readline()
    except FileNotFoundError:
        raise ConfigError(f"{what}: file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{what}: is a directory: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{what}: cannot read {path}: {reason}") from None
    secret = line.rstrip("\r\n")
    if not secret:
        raise ConfigError(f"{what}: {path} is empty")
    return secret


def _permission_warning(path: Path, data: Mapping[str, Any]) -> str | None:
    """A warning when a file holding secrets is readable by group or others (as ssh)."""
    holds_secret = any(
        isinstance(table, dict) and (table.get("password") or table.get("token"))
        for table in data.values()
    )
    if not holds_secret or os.name != "posix":
        return None
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if mode & 0o077:
        return (
            f"{path} holds a password or token and is readable by others "
            f"(mode {mode & 0o777:o}): run chmod 600 {path}"
        )
    return None


PROFILE_KEYS = frozenset(
    {"url", "user", "password", "token", "timeout", "cacert", "insecure", "retries"}
)


def _unknown_key_warnings(path: Path, text: str, data: Mapping[str, Any]) -> list[str]:
    """A warning for each key the profiles do not know, with its line in the file."""
    lines: dict[tuple[str | None, str], int] = {}
    table: str | None = None
    header = re.compile(r"\s*\[\s*([^\]]+?)\s*\]\s*(#.*)?$")
    assignment = re.compile(r"\s*(\"[^\"]*\"|'[^']*'|[A-Za-z0-9_.-]+)\s*=")
    for number, line in enumerate(text.splitlines(), 1):
        if match := header.match(line):
            table = match.group(1).strip("\"'")
        elif match := assignment.match(line):
            lines.setdefault((table, match.group(1).strip("\"'")), number)
    said: list[str] = []
    for name, value in data.items():
        if not isinstance(value, dict):
            where = f"line {lines[(None, name)]}" if (None, name) in lines else "top level"
            said.append(
                f"{path}, {where}: {name!r} is outside any profile "
                "(put it under a [profile] table); ignored"
            )
            continue
        for key in value:
            if key in PROFILE_KEYS:
                continue
            where = f"line {lines[(name, key)]}" if (name, key) in lines else f"[{name}]"
            said.append(
                f"{path}, {where}: unknown key {key!r} in profile {name!r}; ignored "
                f"(known: {', '.join(sorted(PROFILE_KEYS))})"
            )
    return said


def _read_profile(
    name: str | None, environ: Mapping[str, str]
) -> tuple[dict[str, Any], str | None, list[str], Path]:
    """The profile's table, its name, warnings (the file's permissions, unknown
    keys) and the file's path."""
    path = config_path(environ)
    if not path.exists():
        if environ.get("COUCHCTL_CONFIG"):
            raise ConfigError(
                f"COUCHCTL_CONFIG names a file that does not exist: {path}",
                "create it, or unset COUCHCTL_CONFIG to use the default file",
            )
        if name is not None:
            raise ConfigError(
                f"profile {name!r} not found: {path} does not exist",
                f"create {path} with a [{name}] table, or set COUCHCTL_CONFIG",
            )
        return {}, None, [], path
    import tomllib  # only when there is a file to read

    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    permission = _permission_warning(path, data)
    warnings = [permission] if permission else []
    warnings.extend(_unknown_key_warnings(path, text, data))
    wanted = name or "default"
    table = data.get(wanted)
    if table is None:
        if name is not None:
            known = [key for key, value in data.items() if isinstance(value, dict)]
            hint = (
                f"profiles in {path}: {', '.join(known)}"
                if known
                else f"{path} has no profiles: add a [{name}] table"
            )
            raise ConfigError(f"profile {name!r} not found in {path}", hint)
        return {}, None, warnings, path
    if not isinstance(table, dict):
        raise ConfigError(f"profile {wanted!r} in {path} is not a table")
    return table, wanted, warnings, path


def _to_float(value: Any, what: str) -> float:
    """Seconds of a number setting, checked as `parse_duration` checks text: finite,
    positive, at least a millisecond (TOML has `nan` and `inf`)."""
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{what} must be a number of seconds, got {value!r}") from exc
    if not math.isfinite(number):
        raise ConfigError(f"{what} must be a finite number of seconds, got {value!r}")
    if number <= 0:
        raise ConfigError(f"{what} must be positive, got {value!r}")
    if number < 0.001:
        raise ConfigError(f"{what} is shorter than a millisecond (1ms), got {value!r}")
    return number


def _to_retries(from_env: str | None, from_profile: Any) -> int:
    value: Any = from_profile
    if from_env:
        try:
            value = int(from_env)
        except ValueError:
            raise ConfigError(
                f"COUCHCTL_RETRIES must be a whole number >= 0, got {from_env!r}"
            ) from None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"retries must be a whole number >= 0, got {value!r}")
    return value


def _to_duration(value: Any, what: str) -> float:
    """Seconds of a duration setting: a number, or text with a unit (`30s`, `500ms`)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _to_float(value, what)
    from couchctl._duration import parse_duration

    try:
        return parse_duration(str(value))
    except ValueError:
        try:
            float(str(value))
        except ValueError:
            raise ConfigError(
                f"{what} must be a number of seconds or a duration (500ms, 30s, 2m), got {value!r}"
            ) from None
        raise ConfigError(f"{what} must be positive, got {value!r}") from None


def _expand(path: Any) -> str | None:
    return None if path is None else os.path.expanduser(str(path))


def _first(*values: Any) -> Any:
    for value in values:
        if value is not None and value != "":
            return value
    return None


def _env_secret(env: Mapping[str, str], name: str, what: str) -> str | None:
    """NAME or NAME_FILE from the environment (both set is an error, as it is ambiguous)."""
    value, path = env.get(name) or None, env.get(f"{name}_FILE") or None
    if value is not None and path is not None:
        raise ConfigError(f"both {name} and {name}_FILE are set: unset one")
    if path is not None:
        return read_secret_file(path, f"{what} ({name}_FILE)")
    return value


def _flag_secret(value: str | None, path: str | None, flag: str, what: str) -> str | None:
    if value is not None and path is not None:
        raise ConfigError(f"--{flag} and --{flag}-file cannot be used together")
    if path is not None:
        return read_secret_file(path, f"{what} (--{flag}-file)")
    return value


def load_settings(
    *,
    url: str | None = None,
    user: str | None = None,
    token: str | None = None,
    profile: str | None = None,
    timeout: float | None = None,
    cacert: str | None = None,
    insecure: bool | None = None,
    password_file: str | None = None,
    token_file: str | None = None,
    retries: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve the settings: the arguments (flags) win over the environment,
    which wins over the profile file, which wins over the defaults.

    The server URL: --url, else the profile named by --profile, else COUCH_URL /
    COUCHDB_URL, else the profile (COUCHCTL_PROFILE or [default]), else the default.
    COUCHCTL_PROFILE naming a profile whose URL differs from COUCH_URL is an error.
    A profile's credentials and TLS settings apply only to the profile's URL."""
    env = os.environ if environ is None else environ
    if cacert and insecure:
        raise ConfigError("--cacert and --insecure cannot be used together")
    env_profile = env.get("COUCHCTL_PROFILE") or None
    profile_name = _first(profile, env_profile)
    table, used_profile, file_warnings, path = _read_profile(profile_name, env)
    profile_source = f"profile {used_profile} in {path}"

    profile_url = table.get("url")
    if profile_url is not None and not isinstance(profile_url, str):
        raise ConfigError(f"url in profile {used_profile!r} must be a string")
    profile_bare: str | None = None
    profile_user_in_url: tuple[str | None, str | None] = (None, None)
    if profile_url:
        profile_bare, *rest = _check_url(str(profile_url), profile_source)
        profile_user_in_url = (rest[0], rest[1])
    env_url_name = "COUCH_URL" if env.get("COUCH_URL") else "COUCHDB_URL"
    env_url = _first(env.get("COUCH_URL"), env.get("COUCHDB_URL"))

    # A profile without a url means the default URL, and says so.
    profile_url_source = (
        profile_source if profile_url else f"default: profile {used_profile} in {path} has no url"
    )
    if url:
        raw_url, source = url, "--url"
    elif profile is not None:  # --profile: the profile is used whole
        raw_url, source = (profile_url or DEFAULT_URL), profile_url_source
    elif env_url:
        if env_profile is not None and not _same_url(
            _check_url(env_url, env_url_name)[0], profile_bare or DEFAULT_URL
        ):
            raise ConfigError(
                f"{env_url_name} and COUCHCTL_PROFILE={env_profile} name different servers",
                "unset one, or choose with --url or --profile",
            )
        raw_url, source = env_url, env_url_name
    else:
        raw_url, source = (
            (profile_url or DEFAULT_URL),
            (profile_url_source if used_profile else "default"),
        )
    bare_url, url_user, url_password = _check_url(str(raw_url), source)
    from_profile = used_profile is not None and _same_url(bare_url, profile_bare or DEFAULT_URL)

    # The candidate users, each with the password that came with it.
    env_user = env.get("COUCHDB_USER") or None
    env_password = _env_secret(env, "COUCHDB_PASSWORD", "password")
    flag_password = _flag_secret(None, password_file, "password", "password")
    pairs: list[tuple[str | None, str | None]] = []
    if url_user is not None:
        pairs.append((url_user, url_password))
    pairs.append((env_user, env_password))
    profile_user = profile_password = profile_token = None
    if from_profile:
        profile_user = _first(table.get("user"), profile_user_in_url[0])
        profile_password = _first(
            table.get("password"),
            profile_user_in_url[1] if profile_user == profile_user_in_url[0] else None,
        )
        profile_token = table.get("token") or None
        # TOML may hold a number (password = 1234): the wire needs text.
        profile_user, profile_password, profile_token = (
            None if value is None else str(value)
            for value in (profile_user, profile_password, profile_token)
        )
        pairs.append((profile_user, profile_password))

    resolved_user = _first(user, url_user, env_user, profile_user)
    password: str | None = flag_password
    if password is None and resolved_user is not None:
        password = next((p for u, p in pairs if u == resolved_user and p is not None), None)
        if password is None and resolved_user != url_user:
            # A password without a user (COUCHDB_PASSWORD alone, a profile's password
            # alone) is the password of whichever user is named (--user, the
            # profile's), never of a user named in a URL.
            if env_user is None:
                password = env_password
            if password is None and profile_user is None:
                password = profile_password

    resolved_token = _first(
        _flag_secret(token, token_file, "token", "token"),
        _env_secret(env, "COUCHDB_TOKEN", "token"),
        profile_token,
    )

    raw_timeout = _first(timeout, env.get("COUCHCTL_TIMEOUT"), table.get("timeout"))
    profile_insecure = table.get("insecure", False)
    if not isinstance(profile_insecure, bool):
        raise ConfigError(f"insecure must be true or false, got {profile_insecure!r}")
    profile_cacert = table.get("cacert") if from_profile else None
    if not from_profile:
        profile_insecure = False
    if cacert or insecure:  # the flags replace the profile's TLS settings
        profile_cacert, profile_insecure = None, False
    if profile_cacert and profile_insecure:
        raise ConfigError(f"profile {used_profile!r} sets both cacert and insecure")
    resolved_cacert = _expand(_first(cacert, profile_cacert))
    if retries is None:
        retries = _to_retries(env.get("COUCHCTL_RETRIES"), table.get("retries", DEFAULT_RETRIES))

    sources: dict[str, str] = {"url": source}
    if resolved_user is not None:
        sources["user"] = (
            "--user"
            if user
            else f"the URL ({source})"
            if resolved_user == url_user
            else "COUCHDB_USER"
            if resolved_user == env_user
            else profile_source
        )
    if password is not None:
        if flag_password is not None:
            sources["password"] = "--password-file"
        elif password == url_password and resolved_user == url_user:
            sources["password"] = f"the URL ({source})"
        elif password == env_password:
            sources["password"] = (
                "COUCHDB_PASSWORD_FILE" if env.get("COUCHDB_PASSWORD_FILE") else "COUCHDB_PASSWORD"
            )
        else:
            sources["password"] = profile_source
    if resolved_token is not None:
        sources["token"] = (
            ("--token-file" if token_file else "--token")
            if (token or token_file)
            else ("COUCHDB_TOKEN_FILE" if env.get("COUCHDB_TOKEN_FILE") else "COUCHDB_TOKEN")
            if (env.get("COUCHDB_TOKEN") or env.get("COUCHDB_TOKEN_FILE"))
            else profile_source
        )
    sources["timeout"] = (
        "--timeout"
        if timeout is not None
        else "COUCHCTL_TIMEOUT"
        if env.get("COUCHCTL_TIMEOUT")
        else profile_source
        if table.get("timeout") is not None
        else "default"
    )
    if resolved_cacert:
        sources["cacert"] = "--cacert" if cacert else profile_source
    if insecure or profile_insecure:
        sources["insecure"] = "--insecure" if insecure else profile_source
    sources["retries"] = profile_source if "retries" in table else "default"
    sources["config file"] = "COUCHCTL_CONFIG" if env.get("COUCHCTL_CONFIG") else "default"
    if used_profile is not None:
        sources["profile"] = (
            "--profile" if profile is not None else "COUCHCTL_PROFILE" if env_profile else "default"
        )

    return Settings(
        url=bare_url,
        user=resolved_user,
        password=password,
        token=resolved_token,
        timeout=DEFAULT_TIMEOUT if raw_timeout is None else _to_duration(raw_timeout, "timeout"),
        cacert=resolved_cacert,
        insecure=bool(insecure or profile_insecure),
        retries=retries,
        profile=used_profile,
        warnings=tuple(file_warnings),
        sources=tuple(sources.items()),
        config_file=str(path),
    )
