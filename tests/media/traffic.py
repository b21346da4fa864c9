"""What the process tried to connect to, for tests that prove a refusal happens before any
connection (an audit hook on socket.connect), and a DNS answer that changes between lookups."""

from __future__ import annotations

import ipaddress
import sys

import pytest

from datasets_app.media import netguard

_connects: list[tuple] = []
_auditing = [False]


def _audit(event, args):
    if event == "socket.connect" and _auditing[0]:
        _connects.append(args[1])


sys.addaudithook(_audit)


@pytest.fixture
def connections():
    """Every socket.connect address made while the test runs."""
    _connects.clear()
    _auditing[0] = True
    yield _connects
    _auditing[0] = False


def assert_only_loopback(addresses):
    for addr in addresses:
        if isinstance(addr, tuple):
            assert ipaddress.ip_address(addr[0].split("%")[0]).is_loopback, f"connected outside 127/8: {addr}"


def answer_in_turn(monkeypatch, host: str, answers: list[list[str]]) -> list[str]:
    """Makes netguard.resolve answer `host` with each of `answers` in turn (the last one stays): a
    DNS server rebinding the name between one lookup and the next. Returns the lookups seen."""
    real = netguard.resolve
    lookups: list[str] = []

    def resolve(name, port=None):
        if name.strip("[]").rstrip(".").lower() != host:
            return real(name, port)
        lookups.append(name)
        return list(answers[min(len(lookups), len(answers)) - 1])

    monkeypatch.setattr(netguard, "resolve", resolve)
    return lookups
