"""The global options, as parsed by the app callback (or the fast path) and read by
every command. Typer-free: the fast path uses them without importing Typer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer

    from couchctl.config import Settings

__all__ = ["BadInput", "GlobalOptions", "global_options"]


class BadInput(Exception):
    """A usage error found by a command (bad JSON argument, unreadable file): exit 2."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass
class GlobalOptions:
    url: str | None = None
    user: str | None = None
    token: str | None = None
    password_file: str | None = None
    token_file: str | None = None
    profile: str | None = None
    timeout: float | None = None
    cacert: str | None = None
    insecure: bool = False
    retries: int | None = None
    verbose: bool = False
    debug: bool = False

    def settings_quiet(self) -> Settings:
        """The settings without ever prompting (for shell completion)."""
        from couchctl.config import load_settings

        return load_settings(
            url=self.url,
            user=self.user,
            token=self.token,
            password_file=self.password_file,
            token_file=self.token_file,
            profile=self.profile,
            timeout=self.timeout,
            cacert=self.cacert,
            insecure=self.insecure,
            retries=self.retries,
        )

    def settings(self) -> Settings:
        """Resolve flags > environment > profile > defaults; ask for a password
        when a user is given without one and stdin is a terminal."""
        import sys

        settings = self.settings_quiet()
        if (
            settings.user
            and settings.password is None
            and not settings.token
            and sys.stdin.isatty()
        ):
            import getpass

            password = getpass.getpass(f"Password for {settings.user} at {settings.url}: ")
            settings = settings.with_password(password)
        return settings


def global_options(ctx: typer.Context) -> GlobalOptions:
    root = ctx.find_root()
    obj = root.obj
    if isinstance(obj, GlobalOptions):
        return obj
    # Shell completion parses the command line without running the app callback:
    # take the global options from what was parsed.
    from dataclasses import fields

    known = {f.name for f in fields(GlobalOptions)}
    return GlobalOptions(
        **{k: v for k, v in (root.params or {}).items() if k in known and v is not None}
    )
