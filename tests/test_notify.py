"""Tests of agent.notify against a real AF_UNIX datagram socket standing in for systemd."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.notify import Notifier, socket_address


class Listener:
    """A bound datagram socket, like the one systemd passes as NOTIFY_SOCKET."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(socket_address(address))
        self.sock.settimeout(5.0)

    def recv(self) -> str:
        return self.sock.recv(4096).decode()

    def pending(self) -> list[str]:
        self.sock.setblocking(False)
        out: list[str] = []
        try:
            while True:
                out.append(self.sock.recv(4096).decode())
        except BlockingIOError:
            pass
        finally:
            self.sock.settimeout(5.0)
        return out


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[Listener]:
    lst = Listener(str(tmp_path / "notify.sock"))
    yield lst
    lst.sock.close()


@pytest.fixture
def abstract_listener() -> Iterator[Listener]:
    lst = Listener(f"@triage-test-{uuid.uuid4().hex}")
    yield lst
    lst.sock.close()


def test_without_notify_socket_everything_is_a_noop() -> None:
    n = Notifier(environ={})
    assert not n.enabled
    assert n.backend == "none"
    assert n.ready() is False
    assert n.watchdog() is False
    assert n.status("x") is False
    assert n.stopping() is False
    assert n.watchdog_interval_s() is None


def test_direct_socket_sends_each_message(listener: Listener) -> None:
    n = Notifier(environ={"NOTIFY_SOCKET": listener.address}, prefer_systemd=False)
    assert n.backend == "socket"
    assert n.ready()
    assert listener.recv() == "READY=1"
    assert n.watchdog()
    assert listener.recv() == "WATCHDOG=1"
    assert n.status("thermometer ok,\n camera ok")
    assert listener.recv() == "STATUS=thermometer ok, camera ok"
    assert n.stopping("flushing outbox")
    assert listener.recv() == "STOPPING=1\nSTATUS=flushing outbox"


def test_abstract_socket(abstract_listener: Listener) -> None:
    n = Notifier(environ={"NOTIFY_SOCKET": abstract_listener.address}, prefer_systemd=False)
    assert n.ready()
    assert abstract_listener.recv() == "READY=1"


def test_systemd_python_backend_uses_process_environment(
    listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("systemd.daemon", reason="systemd-python not installed")
    monkeypatch.setenv("NOTIFY_SOCKET", listener.address)
    n = Notifier()
    assert n.backend == "systemd-python"
    assert n.ready()
    assert listener.recv() == "READY=1"
    assert n.watchdog()
    assert listener.recv() == "WATCHDOG=1"


def test_repeated_status_is_sent_once(listener: Listener) -> None:
    n = Notifier(environ={"NOTIFY_SOCKET": listener.address}, prefer_systemd=False)
    n.status("a")
    n.status("a")
    n.status("b")
    assert listener.recv() == "STATUS=a"
    assert listener.recv() == "STATUS=b"
    assert listener.pending() == []


def test_missing_socket_is_reported_not_raised(tmp_path: Path) -> None:
    n = Notifier(environ={"NOTIFY_SOCKET": str(tmp_path / "gone.sock")}, prefer_systemd=False)
    assert n.enabled
    assert n.ready() is False


def test_watchdog_interval() -> None:
    pid = str(os.getpid())
    assert Notifier(environ={"WATCHDOG_USEC": "30000000"}).watchdog_interval_s() == 30.0
    env = {"WATCHDOG_USEC": "2500000", "WATCHDOG_PID": pid}
    assert Notifier(environ=env).watchdog_interval_s() == 2.5
    other = {"WATCHDOG_USEC": "2500000", "WATCHDOG_PID": str(os.getpid() + 1)}
    assert Notifier(environ=other).watchdog_interval_s() is None
    assert Notifier(environ={"WATCHDOG_USEC": "0"}).watchdog_interval_s() is None
    assert Notifier(environ={"WATCHDOG_USEC": "junk"}).watchdog_interval_s() is None
