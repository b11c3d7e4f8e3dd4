"""Tests of agent.service.notify against a real AF_UNIX datagram socket standing in for systemd."""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest

from agent.cli.status import StatusClientError, fetch_status
from agent.flow.liveness import STUCK_AFTER_S
from agent.service.notify import Notifier, socket_address
from tests.broker import Broker, Collector, free_port
from tests.conftest import AgentProcess, base_config, write_config
from tests.mjpeg_server import MjpegCamera, jpeg_frame
from tests.test_cli_diag_thermometer import FakeGyModule, gy_frame


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


WATCHDOG_S = 5.0
"""The WatchdogSec the liveness tests run under (``WATCHDOG_USEC``)."""


def _liveness_env(listener: Listener) -> dict[str, str]:
    return {"NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": str(int(WATCHDOG_S * 1e6))}


def _pets(rec: Recorder, after: float = 0.0) -> list[float]:
    return [at for at, m in rec.snapshot() if m == "WATCHDOG=1" and at > after]


def _status_until(sock: Path, predicate: Callable[[dict[str, Any]], bool], timeout: float) -> float:
    """Poll ``status`` until ``predicate(snapshot)``; the monotonic time it first held."""
    end = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < end:
        with contextlib.suppress(StatusClientError):
            last = fetch_status(sock)
            if predicate(last):
                return time.monotonic()
        time.sleep(0.1)
    raise AssertionError(f"status never matched within {timeout} s; last: {last}")


def _source(snap: dict[str, Any], name: str) -> dict[str, Any]:
    src: dict[str, Any] = snap["sources"][name]
    return src


def _delivering(name: str, within_s: float) -> Callable[[dict[str, Any]], bool]:
    def check(snap: dict[str, Any]) -> bool:
        src = _source(snap, name)
        return src["state"] == "ok" and src["age_s"] is not None and src["age_s"] <= within_s

    return check


class Presenter:
    """A GY-MCU90614 on a pty, a person stepping up every 4 s (one temperature result each)."""

    def __init__(self) -> None:
        self.module = FakeGyModule(self._frame)

    @staticmethod
    def _frame() -> bytes:
        present = time.monotonic() % 4.0 < 2.6
        return gy_frame(3651 if present else 2310, 2301)


@pytest.mark.slow
@pytest.mark.broker
@pytest.mark.model
def test_watchdog_pets_through_camera_and_thermometer_outages(
    tmp_path: Path,
    listener: Listener,
    mosquitto: Broker,
    collector_factory: Callable[..., Collector],
    agent_process: Callable[..., AgentProcess],
) -> None:
    """An absent camera or thermometer is a degraded state: pets go on, the rest keeps working.

    The camera is a real MJPEG-over-HTTP server, unplugged (connections cut, then refused) for 3x
    the watchdog interval; then the thermometer's pty is closed and its udev-style symlink removed
    for as long, and a new pty comes back under the same name.
    """
    camera = MjpegCamera()
    camera.start()
    link = tmp_path / "ttyUSB-thermometer"
    thermo = Presenter()
    link.symlink_to(thermo.module.port)
    sock = tmp_path / "run" / "status.sock"
    rec = Recorder(listener)
    outage = 3 * WATCHDOG_S
    try:
        raw = base_config(
            tmp_path,
            mosquitto.port,
            thermometer={"enabled": True, "port": str(link), "protocol": "gy-mcu90614"},
            camera={"enabled": True, "source": camera.url, "max_fps": 5},
        )
        temperatures = collector_factory(mosquitto.port)
        agent = agent_process(write_config(tmp_path / "config.toml", raw), _liveness_env(listener))
        ready = rec.wait_for(lambda m: m == "READY=1", timeout=60)
        _status_until(sock, _delivering("vision", 1.0), timeout=60)
        _status_until(sock, _delivering("thermometer", 1.0), timeout=30)

        # -- the camera goes away for 3x the watchdog interval ------------------------------------
        camera.stop()
        camera_out = time.monotonic()
        before = len(temperatures.kinds("temperature"))
        _status_until(sock, lambda s: _source(s, "camera")["state"] == "disconnected", 10)
        while time.monotonic() < camera_out + outage:
            time.sleep(0.2)
        snap = fetch_status(sock)
        assert _source(snap, "camera")["state"] == "disconnected"
        assert _source(snap, "camera")["fps"] is None  # no stale rate while it is down
        assert _source(snap, "vision")["fps"] is None
        assert snap["inference_ms"] is None  # nor a stale inference time
        assert snap["stuck_threads"] == []
        during = len(temperatures.kinds("temperature")) - before
        assert during >= 2, f"{during} temperature results while the camera was out"

        # -- it comes back; the thermometer goes away for as long ---------------------------------
        camera.start()
        camera_back = time.monotonic()
        thermo.module.close()
        link.unlink()
        thermo_out = time.monotonic()
        vision_back = _status_until(sock, _delivering("vision", 1.0), timeout=15)
        assert vision_back - camera_back <= 10.0
        while time.monotonic() < thermo_out + outage:
            time.sleep(0.2)
        assert _source(fetch_status(sock), "thermometer")["state"] == "disconnected"
        thermo = Presenter()
        link.symlink_to(thermo.module.port)
        thermo_back = time.monotonic()
        readings_back = _status_until(sock, _delivering("thermometer", 1.0), timeout=15)
        assert readings_back - thermo_back <= 10.0
        end = time.monotonic()

        # -- systemd was petted all along, well within its interval --------------------------------
        pets = [ready, *_pets(rec, ready), end]
        gaps = [b - a for a, b in itertools.pairwise(pets)]
        assert max(gaps) < WATCHDOG_S / 2, f"longest gap between pets {max(gaps):.1f} s"
        assert agent.proc.poll() is None, agent.output()
        assert agent.stop() == 0, agent.output()
        log = agent.output()
        assert log.count("is back after") == 1, log
        assert log.count("readings from") == 1, log
        print(
            f"vision back {vision_back - camera_back:.1f} s after the camera, readings "
            f"{readings_back - thermo_back:.1f} s after the thermometer; {len(pets) - 2} pets, "
            f"longest gap {max(gaps):.2f} s; {during} temperatures during the camera outage"
        )
    finally:
        rec.close()
        camera.stop()
        thermo.module.close()


@pytest.mark.slow
@pytest.mark.broker
@pytest.mark.model
def test_watchdog_stops_when_a_thread_hangs(
    tmp_path: Path,
    listener: Listener,
    mosquitto: Broker,
    collector_factory: Callable[..., Collector],
    agent_process: Callable[..., AgentProcess],
) -> None:
    """The positive control: a grabber stuck in a read that never returns stops the pets.

    The camera is an image folder whose second image is a named pipe nobody writes: OpenCV's
    ``imread`` blocks in ``open(2)`` for ever, as a read on a dead network share or a wedged USB
    device would, and no timeout can end it. Nothing in the agent is told about it: the grabber's
    loop stops turning, the main loop keeps running (health keeps coming) but stops petting.
    """
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "a.jpg").write_bytes(jpeg_frame(1))
    os.mkfifo(frames / "b.jpg")
    rec = Recorder(listener)
    try:
        raw = base_config(
            tmp_path, mosquitto.port, camera={"enabled": True, "source": str(frames), "max_fps": 5}
        )
        health = collector_factory(mosquitto.port)
        agent = agent_process(write_config(tmp_path / "config.toml", raw), _liveness_env(listener))
        ready = rec.wait_for(lambda m: m == "READY=1", timeout=60)
        rec.wait_for(lambda m: m == "WATCHDOG=1")
        stuck_at = rec.wait_for(lambda m: "STUCK camera-grabber" in m, timeout=STUCK_AFTER_S + 15)
        assert stuck_at - ready >= STUCK_AFTER_S - 2.0  # not before the bound
        healths = len(health.kinds("health"))
        time.sleep(2 * WATCHDOG_S)
        assert agent.proc.poll() is None, agent.output()
        # the main loop still ticks (health every 2 s) ... but systemd gets no pet for 2 intervals
        assert len(health.kinds("health")) >= healths + 3
        assert _pets(rec, stuck_at) == []
        assert _pets(rec, ready), "pets before the hang"
        assert "thread camera-grabber has not turned its loop" in agent.output()
        snap = fetch_status(tmp_path / "run" / "status.sock")
        assert snap["stuck_threads"] == ["camera-grabber"]
        assert agent.stop() == 0, agent.output()  # shutdown leaves the hung thread behind
        assert "did not stop within" in agent.output()
    finally:
        rec.close()
        with contextlib.suppress(OSError):  # release the pipe if anything still waits on it
            os.close(os.open(frames / "b.jpg", os.O_WRONLY | os.O_NONBLOCK))


HANG_ON_CONNECT = textwrap.dedent(
    """
    # Imported by the agent's interpreter at start-up (PYTHONPATH): once the trigger file exists,
    # the publisher's CONNACK callback, run by the network thread, never returns.
    import os
    import threading

    from agent.wire.publisher import Publisher

    _trigger = os.environ["TEST_HANG_ON_CONNECT"]
    _on_connect = Publisher._on_connect

    def _hanging(self, *args):
        if os.path.exists(_trigger):
            threading.Event().wait()
        _on_connect(self, *args)

    Publisher._on_connect = _hanging
    """
)


@pytest.mark.slow
@pytest.mark.broker
def test_watchdog_stops_when_the_mqtt_network_loop_hangs(
    tmp_path: Path,
    listener: Listener,
    mosquitto: Broker,
    agent_process: Callable[..., AgentProcess],
) -> None:
    """The positive control for the publisher's network thread: a callback that never returns.

    The real agent, with a start-up hook (``sitecustomize``) that makes the CONNACK callback hang
    once a trigger file exists; the broker is restarted, the agent reconnects, and its network
    thread hangs there. The main loop and the drain keep turning, the pets stop.
    """
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(HANG_ON_CONNECT)
    trigger = tmp_path / "hang"
    env = {
        **_liveness_env(listener),
        "PYTHONPATH": str(hooks),
        "TEST_HANG_ON_CONNECT": str(trigger),
    }
    rec = Recorder(listener)
    try:
        cfg = write_config(tmp_path / "config.toml", base_config(tmp_path, mosquitto.port))
        agent = agent_process(cfg, env)
        rec.wait_for(lambda m: m.startswith("STATUS=broker up"))
        ready = rec.wait_for(lambda m: m == "READY=1")
        trigger.touch()
        mosquitto.stop()
        mosquitto.start()  # same port: the agent reconnects, and its CONNACK callback hangs
        stuck_at = rec.wait_for(lambda m: "STUCK mqtt-network" in m, timeout=STUCK_AFTER_S + 15)
        time.sleep(2 * WATCHDOG_S)
        assert agent.proc.poll() is None, agent.output()
        assert _pets(rec, stuck_at) == []
        assert _pets(rec, ready), "pets before the hang"
        assert "thread mqtt-network has not turned its loop" in agent.output()
        snap = fetch_status(tmp_path / "run" / "status.sock")  # the main loop still answers
        assert snap["stuck_threads"] == ["mqtt-network"]
        assert agent.stop() == 0, agent.output()  # shutdown leaves the hung thread behind
        assert "mqtt-network did not stop within" in agent.output()
    finally:
        rec.close()


@pytest.mark.slow
@pytest.mark.broker
@pytest.mark.parametrize("broker", ["down", "silent"])
def test_watchdog_pets_while_the_broker_is_down_or_silent(
    tmp_path: Path, listener: Listener, agent_process: Callable[..., AgentProcess], broker: str
) -> None:
    """The negative control: no broker (connections refused), or a port that accepts TCP and
    never answers the CONNECT. The network loop keeps turning while it reconnects or waits: pets
    continue for longer than the stuck bound, nothing is reported stuck, the broker is DOWN."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        if broker == "silent":
            silent.listen(16)  # the kernel accepts the connections; nobody reads
        port = silent.getsockname()[1] if broker == "silent" else free_port()
        rec = Recorder(listener)
        try:
            cfg = write_config(tmp_path / "config.toml", base_config(tmp_path, port))
            agent = agent_process(cfg, _liveness_env(listener))
            ready = rec.wait_for(lambda m: m == "READY=1")
            time.sleep(STUCK_AFTER_S + 5)
            assert agent.proc.poll() is None, agent.output()
            pets = _pets(rec, ready)
            gaps = [b - a for a, b in itertools.pairwise([ready, *pets, time.monotonic()])]
            assert max(gaps) < WATCHDOG_S / 2 + 1.0, gaps
            assert not [m for _, m in rec.snapshot() if "STUCK" in m]
            snap = fetch_status(tmp_path / "run" / "status.sock")
            assert snap["stuck_threads"] == []
            assert not snap["broker"]["connected"], snap["broker"]
            if broker == "down":
                assert "refused" in (snap["broker"]["last_error"] or ""), snap["broker"]
            assert agent.stop() == 0, agent.output()
        finally:
            rec.close()


@pytest.mark.slow
@pytest.mark.broker
def test_watchdog_continues_while_the_thermometer_delivers(
    tmp_path: Path,
    listener: Listener,
    mosquitto: Broker,
    agent_process: Callable[..., AgentProcess],
) -> None:
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
