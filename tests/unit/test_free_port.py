"""Listening ports for the local stack come from below the kernel's ephemeral range and are free."""

from __future__ import annotations

import socket

import pytest

from devstack import process
from devstack.process import LISTEN_PORTS, free_port


def ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as handle:
            return int(handle.read().split()[0])
    except OSError:
        return 32768  # Linux's default


def test_a_free_port_is_bindable_and_no_outgoing_connection_can_take_it() -> None:
    assert LISTEN_PORTS.stop <= ephemeral_low()
    ports = {free_port() for _ in range(20)}
    assert all(port in LISTEN_PORTS for port in ports)
    assert len(ports) > 1  # drawn, not one fixed port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", ports.pop()))


def test_a_port_in_use_is_never_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", free_port()))
        in_use, spare = busy.getsockname()[1], free_port()
        draws = iter([in_use, in_use, spare])
        monkeypatch.setattr(process.random, "choice", lambda ports: next(draws))
        assert free_port() == spare
