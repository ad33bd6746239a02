"""The test session itself refuses any non-loopback connection."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import NetworkBlocked, _attempts


def test_public_address_is_refused() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(NetworkBlocked):
            sock.connect(("93.184.216.34", 443))
    finally:
        sock.close()
        _attempts.clear()  # this attempt was the point of the test


def test_hostname_resolution_is_refused() -> None:
    with pytest.raises(NetworkBlocked):
        socket.getaddrinfo("api.binance.com", 443)
    _attempts.clear()


def test_loopback_is_allowed() -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        client.connect(server.getsockname())
    finally:
        client.close()
        server.close()
