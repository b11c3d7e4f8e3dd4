"""Tests of agent.service.notify against a real AF_UNIX datagram socket standing in for systemd."""

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
from tests.broker import Broker, Collector
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


def _notify_env(listener: Listener) -> dict[str, str]:
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
        agent = agent_process(cfg, _notify_env(listener))
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


@pytest.mark.slow
@pytest.mark.broker
def test_watchdog_stops_when_a_source_stops_delivering(
    tmp_path: Path,
    listener: Listener,
    mosquitto: Broker,
    collector_factory: Callable[..., Collector],
    agent_process: Callable[..., AgentProcess],
) -> None:
    master, slave = os.openpty()  # a serial port that never sends a byte
    rec = Recorder(listener)
    try:
        raw = base_config(
            tmp_path,
            mosquitto.port,
            thermometer={"enabled": True, "port": os.ttyname(slave), "stale_after_s": 1.0},
        )
        health = collector_factory(mosquitto.port)
        agent = agent_process(write_config(tmp_path / "config.toml", raw), _notify_env(listener))
        ready = rec.wait_for(lambda m: m == "READY=1")
        grace_end = ready + 2.0  # stale_after_s after start, plus one tick
        # The main loop keeps running (health events every 2 s) well past the grace period ...
        health.wait_for(lambda got: sum(m.topic.endswith("/health") for m in got) >= 4, timeout=30)
        last_health = health.kinds("health")[-1]
        assert last_health["sources"]["thermometer"]["state"] != "ok"
        assert agent.proc.poll() is None, agent.output()
        # ... yet systemd gets no WATCHDOG=1 after it: it would restart the service.
        pets_after_grace = [at for at, m in rec.snapshot() if m == "WATCHDOG=1" and at > grace_end]
        assert pets_after_grace == []
        assert agent.stop() == 0, agent.output()
    finally:
        rec.close()
        os.close(master)
        os.close(slave)


@pytest.mark.slow
@pytest.mark.broker
def test_watchdog_continues_while_the_thermometer_delivers(
    tmp_path: Path,
    listener: Listener,
    mosquitto: Broker,
    agent_process: Callable[..., AgentProcess],
) -> None:
    from tests.test_cli_diag_thermometer import FakeGyModule

    module = FakeGyModule()  # a GY-MCU90614 on a pty, streaming once started
    rec = Recorder(listener)
    try:
        raw = base_config(
            tmp_path,
            mosquitto.port,
            thermometer={
                "enabled": True,
                "port": module.port,
                "protocol": "gy-mcu90614",
                "stale_after_s": 1.0,
            },
        )
        agent = agent_process(write_config(tmp_path / "config.toml", raw), _notify_env(listener))
        ready = rec.wait_for(lambda m: m == "READY=1")
        # same grace as the dead-port test: here pets must keep coming after it
        while time.monotonic() < ready + 6.0 and agent.proc.poll() is None:
            time.sleep(0.2)
        pets_after_grace = [
            at for at, m in rec.snapshot() if m == "WATCHDOG=1" and at > ready + 2.0
        ]
        assert len(pets_after_grace) >= 3, agent.output()
        assert agent.stop() == 0, agent.output()
    finally:
        rec.close()
        module.close()
