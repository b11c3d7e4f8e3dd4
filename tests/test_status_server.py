"""Tests of agent.service.status_server and agent.cli.status over a real Unix socket."""

from __future__ import annotations

import argparse
import io
import os
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.cli.status import (
    StatusClientError,
    _cmd_status,
    fetch_status,
    follow_events,
    render_event,
    render_status,
)
from agent.flow.events import AvailabilityEvent, TemperatureEvent
from agent.service.status_server import StatusServer, StatusServerError

SNAP: dict[str, Any] = {
    "device": "demo-clinic-desk-1",
    "version": "0.1.0",
    "uptime_s": 3725.0,
    "sources": {
        "thermometer": {"state": "ok", "since": 1.0, "age_s": 0.4, "fps": 2.0, "errors": 1},
        "camera": {"state": "stale", "since": 1.0, "age_s": 14.0, "fps": None, "errors": 0},
    },
    "inference_ms": 23.4,
    "last_temperature": {"at": 1_700_000_000.0, "estimate_c": 36.84, "result": "normal"},
    "outbox": {"depth": 3, "oldest_s": 12.0, "evicted": 0},
    "dropped": 0,
    "broker": {"connected": False, "host": "broker:1883", "last_error": "connection refused"},
    "last_error": "camera: no frame for 14 s",
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[StatusServer]:
    srv = StatusServer(tmp_path / "run" / "status.sock", lambda: SNAP, lambda k: f"t/{k}")
    srv.start()
    yield srv
    srv.stop()


def test_status_round_trip_and_modes(server: StatusServer) -> None:
    assert fetch_status(server.path) == SNAP
    assert stat.S_IMODE(server.path.stat().st_mode) == 0o660
    assert stat.S_IMODE(server.path.parent.stat().st_mode) == 0o750


def test_tail_streams_published_events(server: StatusServer) -> None:
    got: list[dict[str, Any]] = []
    subscribed = threading.Event()

    def read() -> None:
        for doc in follow_events(server.path):
            got.append(doc)
            if len(got) == 2:
                return

    t = threading.Thread(target=read)
    t.start()
    # the subscription is registered once the server answered the tail request
    for _ in range(200):
        with server._lock:
            if server._readers:
                subscribed.set()
                break
        threading.Event().wait(0.01)
    assert subscribed.is_set()
    server.publish(AvailabilityEvent(at=1_700_000_000.0, state="online"))
    server.publish(
        TemperatureEvent(
            at=1_700_000_001.0,
            result="fever",
            object_c=35.1,
            ambient_c=22.0,
            estimate_c=38.123,
            threshold_c=37.3,
            plateau_s=1.2,
            samples=9,
        )
    )
    t.join(timeout=5)
    assert not t.is_alive()
    assert got[0]["event"] == {
        "ts": "2023-11-14T22:13:20.000Z",
        "kind": "status",
        "topic": "t/status",
        "state": "online",
    }
    assert got[1]["event"]["estimate_c"] == 38.12
    assert "fever" in render_event(got[1])


def test_unknown_request_is_refused(server: StatusServer) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(str(server.path))
        s.sendall(b'{"cmd": "reboot"}\n')
        answer = s.recv(4096)
    assert b'"ok":false' in answer
    assert b"status|tail" in answer


def test_garbage_request_is_refused(server: StatusServer) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(str(server.path))
        s.sendall(b"hello\n")
        assert b"send one JSON line" in s.recv(4096)


def test_stale_socket_is_replaced_live_one_is_not(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # file left behind, nobody listening
    first = StatusServer(path, lambda: SNAP)
    first.start()
    try:
        assert fetch_status(path)["device"] == "demo-clinic-desk-1"
        second = StatusServer(path, lambda: SNAP)
        with pytest.raises(StatusServerError, match="another agent"):
            second.start()
    finally:
        first.stop()
    assert not path.exists()


def test_not_a_socket_is_not_deleted(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    path.write_text("precious")
    with pytest.raises(StatusServerError, match="not a socket"):
        StatusServer(path, lambda: SNAP).start()
    assert path.read_text() == "precious"


def test_client_says_what_to_do_when_agent_is_down(tmp_path: Path) -> None:
    with pytest.raises(StatusClientError, match="systemctl start triage-agent"):
        fetch_status(tmp_path / "none.sock")
    err = io.StringIO()
    args = argparse.Namespace(socket=str(tmp_path / "none.sock"), config="x", json=False)
    assert _cmd_status(args, err) == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root bypasses file permissions")
def test_client_explains_permission_denied(server: StatusServer) -> None:
    server.path.chmod(0o000)
    with pytest.raises(StatusClientError, match="adduser"):
        fetch_status(server.path)


def test_status_command_prints_for_a_person(server: StatusServer) -> None:
    out = io.StringIO()
    args = argparse.Namespace(socket=str(server.path), config="x", json=False)
    assert _cmd_status(args, out) == 0
    text = out.getvalue()
    assert "up 1 h 02 min" in text
    assert "NOT connected" in text
    assert "36.8 °C normal" in text
    assert "\033[" not in text  # not a TTY: no colour


def test_render_status_colour_only_when_asked() -> None:
    assert "\033[" in render_status(SNAP, colour=True)
    assert "\033[" not in render_status(SNAP, colour=False)


def test_render_status_shows_the_camera_view_state() -> None:
    assert "camera view" not in render_status(SNAP)
    ok = {**SNAP, "integrity": {"commissioned": True, "raised": [], "check_ms": 6.5}}
    assert "  camera view  ok, commissioned" in render_status(ok)
    bad = {**SNAP, "integrity": {"commissioned": False, "raised": ["camera_covered"]}}
    line = next(x for x in render_status(bad).splitlines() if "camera view" in x)
    assert "ALERT camera_covered" in line
    assert "NOT commissioned" in line


def test_render_status_names_stuck_threads() -> None:
    assert "STUCK" not in render_status(SNAP)
    text = render_status({**SNAP, "stuck_threads": ["camera-grabber"]})
    assert "STUCK        camera-grabber: no watchdog pets" in text
