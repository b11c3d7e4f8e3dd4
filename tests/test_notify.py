"""Tests of agent.service.notify against a real AF_UNIX datagram socket standing in for systemd (the
watchdog decision behind the pets: tests/test_service_watchdog.py)."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from importlib import import_module
from pathlib import Path

import pytest

from agent.cli.status import fetch_status
from agent.service.notify import Notifier, socket_address
from tests.broker import Broker
from tests.conftest import AgentProcess, base_config, write_config


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
    assert n.status_line("x") is False
    assert n.stopping() is False
    assert n.watchdog_interval_s() is None


def test_direct_socket_sends_each_message(listener: Listener) -> None:
    n = Notifier(environ={"NOTIFY_SOCKET": listener.address}, prefer_systemd=False)
    assert n.backend == "socket"
    assert n.ready()
    assert listener.recv() == "READY=1"
    assert n.watchdog()
    assert listener.recv() == "WATCHDOG=1"
    assert n.status_line("thermometer ok,\n camera ok")
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
    import_module("systemd.daemon")  # a declared dependency: missing fails the test
    monkeypatch.setenv("NOTIFY_SOCKET", listener.address)
    n = Notifier()
    assert n.backend == "systemd-python"
    assert n.ready()
    assert listener.recv() == "READY=1"
    assert n.watchdog()
    assert listener.recv() == "WATCHDOG=1"


def test_repeated_status_is_sent_once(listener: Listener) -> None:
    n = Notifier(environ={"NOTIFY_SOCKET": listener.address}, prefer_systemd=False)
    n.status_line("a")
    n.status_line("a")
    n.status_line("b")
    assert listener.recv() == "STATUS=a"
    assert listener.recv() == "STATUS=b"
    assert listener.pending() == []


@pytest.mark.parametrize("prefer_systemd", [True, False])
def test_a_full_manager_queue_never_blocks_the_main_loop(
    listener: Listener, monkeypatch: pytest.MonkeyPatch, prefer_systemd: bool
) -> None:
    """Nobody reads the socket (a busy or wedged manager): pets and status lines are dropped and
    counted, never waited for; the main loop calling them keeps turning."""
    monkeypatch.setenv("NOTIFY_SOCKET", listener.address)
    n = Notifier(prefer_systemd=prefer_systemd)
    done = threading.Event()
    results: list[bool] = []

    def main_loop() -> None:
        for i in range(200):  # far beyond the kernel's datagram queue (net.unix.max_dgram_qlen)
            results.append(n.watchdog())
            n.status_line(f"tick {i}")
        done.set()

    threading.Thread(target=main_loop, daemon=True).start()
    assert done.wait(10), "the notifier blocked the main loop on a full queue"
    assert results[0] is True
    assert results[-1] is False
    assert listener.recv() == "WATCHDOG=1"


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


# -- the real service process --------------------------------------------------------------------
class Recorder:
    """Collects (monotonic time, message) from a NOTIFY_SOCKET listener in a thread."""

    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        self.messages: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self.listener.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                msg = self.listener.sock.recv(4096).decode()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.messages.append((time.monotonic(), msg))

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 30.0) -> float:
        """Monotonic time of the first message matching ``predicate`` (fails on timeout)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                for at, msg in self.messages:
                    if predicate(msg):
                        return at
            time.sleep(0.05)
        raise AssertionError(f"no matching notification; got {self.snapshot()}")

    def snapshot(self) -> list[tuple[float, str]]:
        with self._lock:
            return list(self.messages)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def notify_env(listener: Listener) -> dict[str, str]:
    return {"NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "10000000"}


@pytest.mark.slow
@pytest.mark.broker
def test_run_notifies_ready_watchdog_status_stopping(
    tmp_path: Path,
    listener: Listener,
    mosquitto: Broker,
    agent_process: Callable[..., AgentProcess],
) -> None:
    cfg = write_config(tmp_path / "config.toml", base_config(tmp_path, mosquitto.port))
    rec = Recorder(listener)
    try:
        agent = agent_process(cfg, notify_env(listener))
        ready = rec.wait_for(lambda m: m == "READY=1")
        rec.wait_for(lambda m: m == "WATCHDOG=1")
        rec.wait_for(lambda m: m.startswith("STATUS=broker"))
        # the technician's `status` reaches the same process through its socket
        snap = fetch_status(tmp_path / "run" / "status.sock")
        assert snap["device"] == "test-site-desk-1"
        assert agent.stop() == 0, agent.output()
        stopping = rec.wait_for(lambda m: m.startswith("STOPPING=1"), timeout=5)
        assert stopping > ready
    finally:
        rec.close()
