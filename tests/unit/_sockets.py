"""A socket that records the SO_RCVLOWAT values set on it, and a network stream
around it as httpcore gives one (`get_extra_info`)."""

from __future__ import annotations

import socket
from typing import Any


class FakeSocket(socket.socket):
    def __init__(self) -> None:
        super().__init__(socket.AF_INET, socket.SOCK_STREAM)
        self.lows: list[int] = []

    def setsockopt(self, *args: Any) -> None:  # type: ignore[override]
        self.lows.append(args[-1])


class Network:
    def __init__(self, sock: Any, tls: Any = None) -> None:
        self.info = {"socket": sock, "ssl_object": tls}

    def get_extra_info(self, name: str) -> Any:
        return self.info.get(name)
