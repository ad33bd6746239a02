"""Loaded first by any Python started with this folder on PYTHONPATH (the CLI subprocesses of
the tests): a connection to anything but loopback fails loudly and is written to the file
named by PREFLIGHT_NETGUARD_LOG, which the test then reads."""

from __future__ import annotations

import ipaddress
import os
import socket

_real_connect = socket.socket.connect
_real_getaddrinfo = socket.getaddrinfo


def _loopback(host: object) -> bool:
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _refuse(what: str) -> None:
    log = os.environ.get("PREFLIGHT_NETGUARD_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(what + "\n")
    raise OSError(f"netguard: {what} refused (only loopback is allowed in tests)")


def _connect(self: socket.socket, address: object) -> None:
    if isinstance(address, tuple) and not _loopback(address[0]):
        _refuse(f"connect {address!r}")
    return _real_connect(self, address)  # type: ignore[arg-type]


def _getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
    name = host.decode() if isinstance(host, bytes) else host
    if not _loopback(name):
        _refuse(f"resolve {name!r}")
    return _real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]


socket.socket.connect = _connect  # type: ignore[method-assign]
socket.getaddrinfo = _getaddrinfo  # type: ignore[assignment]
