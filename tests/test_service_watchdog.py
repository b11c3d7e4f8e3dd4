"""The watchdog decision (agent/service/watchdog.py): pet systemd only while every watched thread's
loop turns. In process: a source that never delivered but whose loop turns keeps the pets going, a
loop that stops turning stops them. Against the real ``triage-agent run`` with a fake
``NOTIFY_SOCKET`` (``WATCHDOG_USEC``): pets go on through camera, thermometer and broker outages and
while the thermometer delivers, and stop when a thread hangs (a grabber on a FIFO, a CONNACK callback
that never returns). The notifications themselves: tests/test_notify.py.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.cli.status import StatusClientError, fetch_status
from agent.config import AgentConfig, parse_config
from agent.flow.liveness import STUCK_AFTER_S, LoopStamp
from agent.service.notify import Notifier
from agent.service.pipeline import Pipeline
from agent.wire.outbox import Outbox
from tests.broker import Broker, Collector, free_port
from tests.conftest import AgentProcess, base_config, write_config
from tests.mjpeg_server import MjpegCamera, jpeg_frame
from tests.test_cli_diag_thermometer import FakeGyModule, gy_frame
from tests.test_notify import Listener, Recorder, notify_env
from tests.test_pipeline import ReadingSource


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[Listener]:
    lst = Listener(str(tmp_path / "notify.sock"))
    yield lst
    lst.sock.close()


def test_watchdog_follows_thread_loops_not_data(tmp_path: Path) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify.sock"))
    sock.settimeout(0.5)
    cfg: AgentConfig = parse_config(base_config(tmp_path, 1883), environ={})
    src = ReadingSource()
    notifier = Notifier(
        environ={"NOTIFY_SOCKET": str(tmp_path / "notify.sock")}, prefer_systemd=False
    )
    p = Pipeline(cfg, [src], [], Outbox(cfg.outbox.path), publisher=None, notifier=notifier)
    loop = LoopStamp("probe-reader", bound_s=0.3)
    src.stamps = [loop]

    def pets() -> int:
        got = []
        with contextlib.suppress(TimeoutError):
            while True:
                got.append(sock.recv(4096).decode())
        return got.count("WATCHDOG=1")

    try:
        # the source never delivered (a degraded device), but its loop turns: pets go on
        p.tick(p.started + 60)
        assert p.snapshot()["sources"]["probe"]["state"] == "starting"
        assert p.stuck_threads() == []
        assert pets() == 1
        time.sleep(0.4)  # the loop stopped turning: stuck
        assert p.stuck_threads() == ["probe-reader"]
        p.tick(p.started + 61)
        assert pets() == 0
        assert "STUCK probe-reader" in p.status_line(p.started + 61)
        assert p.snapshot()["stuck_threads"] == ["probe-reader"]
        loop.turn()  # it turns again
        p.tick(p.started + 62)
        assert pets() == 1
    finally:
        sock.close()
        p.outbox.close()


# -- the real service process --------------------------------------------------------------------


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
        agent = agent_process(write_config(tmp_path / "config.toml", raw), notify_env(listener))
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
