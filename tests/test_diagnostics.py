"""Tests of `triage-agent diag`: real ptys, a real mosquitto (with ACLs and passwords), real SQLite."""

from __future__ import annotations

import io
import json
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.cli.broker_probe import probe_broker
from agent.cli.diag import (
    check_agent,
    check_clock,
    check_disk,
    check_outbox,
    check_thermometer,
    diagnose,
    render,
)
from agent.config import EX_CONFIG, AgentConfig, parse_config
from agent.service.status_server import StatusServer
from agent.wire.contract import WireMessage
from agent.wire.outbox import Outbox
from tests.broker import Broker
from tests.conftest import base_config, write_config

GY_START = b"\xa5\x45\xea"


def gy_frame(object_cc: int, ambient_cc: int) -> bytes:
    """A GY-MCU90614 frame as the module sends it (datasheet layout)."""
    body = (
        bytes([0x5A, 0x5A, 0x45, 0x04])
        + object_cc.to_bytes(2, "big")
        + ambient_cc.to_bytes(2, "big")
    )
    return body + bytes([sum(body) & 0xFF])


class FakeGyModule:
    """Speaks the GY-MCU90614 protocol on a pty master: streams frames once told A5 45 EA."""

    def __init__(self, payload: Callable[[], bytes] | None = None) -> None:
        self.master, self.slave = os.openpty()
        self.port = os.ttyname(self.slave)
        self.payload = payload or (lambda: gy_frame(3651, 2301))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        heard = b""
        streaming = False
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    heard += os.read(self.master, 64)
                except OSError:
                    return
                streaming = streaming or GY_START in heard
            if streaming:
                try:
                    os.write(self.master, self.payload())
                except OSError:
                    return
                time.sleep(0.05)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def gy_module() -> Iterator[FakeGyModule]:
    m = FakeGyModule()
    yield m
    m.close()


def cfg_for(tmp_path: Path, port: int = 1, **sections: dict[str, Any]) -> AgentConfig:
    return parse_config(base_config(tmp_path, port, **sections), environ={})


# -- thermometer ---------------------------------------------------------------------------------
def test_thermometer_pass_with_valid_frames(tmp_path: Path, gy_module: FakeGyModule) -> None:
    cfg = cfg_for(
        tmp_path,
        thermometer={"enabled": True, "port": gy_module.port, "protocol": "gy-mcu90614"},
    )
    check = check_thermometer(cfg, None)
    assert check.verdict == "PASS", check
    assert "object 36.51 °C, ambient 23.01 °C" in check.detail


def test_thermometer_wrong_protocol_says_so(tmp_path: Path, gy_module: FakeGyModule) -> None:
    # bridge decoder on a GY byte stream: bytes arrive, but no bridge frame. The GY module only
    # streams after its start command, which the bridge check does not send: prime it.
    os.write(gy_module.slave, GY_START)
    time.sleep(0.2)
    cfg = cfg_for(
        tmp_path, thermometer={"enabled": True, "port": gy_module.port, "protocol": "bridge"}
    )
    check = check_thermometer(cfg, None)
    assert check.verdict == "FAIL"
    assert "no valid frame" in check.detail
    assert check.fix is not None
    assert "protocol" in check.fix


def test_thermometer_silent_port(tmp_path: Path) -> None:
    master, slave = os.openpty()
    try:
        cfg = cfg_for(tmp_path, thermometer={"enabled": True, "port": os.ttyname(slave)})
        check = check_thermometer(cfg, None)
    finally:
        os.close(master)
        os.close(slave)
    assert check.verdict == "FAIL"
    assert "silent" in check.detail


def test_thermometer_missing_port(tmp_path: Path) -> None:
    cfg = cfg_for(tmp_path, thermometer={"enabled": True, "port": str(tmp_path / "ttyNone")})
    check = check_thermometer(cfg, None)
    assert check.verdict == "FAIL"
    assert check.fix is not None
    assert "/dev/serial/by-id" in check.fix


def test_running_agent_is_asked_instead_of_opening_devices(tmp_path: Path) -> None:
    cfg = cfg_for(tmp_path, thermometer={"enabled": True, "port": "/dev/ttyUSB9"})
    snap = {
        "uptime_s": 12.0,
        "sources": {"thermometer": {"state": "stale", "age_s": 30.0, "fps": None, "errors": 2}},
    }
    server = StatusServer(cfg.runtime.status_socket, lambda: snap)
    server.start()
    try:
        agent, live = check_agent(cfg)
        assert agent.verdict == "PASS"
        check = check_thermometer(cfg, live)
    finally:
        server.stop()
    assert check.verdict == "FAIL"
    assert "stale: last data 30 s ago, 2 bad reads (live" in check.detail


# -- broker --------------------------------------------------------------------------------------
@pytest.mark.broker
def test_broker_all_steps_pass(tmp_path: Path, mosquitto: Broker) -> None:
    probes = probe_broker(cfg_for(tmp_path, mosquitto.port))
    verdicts = {p.name: p.verdict for p in probes}
    assert verdicts == {
        "broker dns": "PASS",
        "broker tcp": "PASS",
        "broker tls": "SKIP",
        "broker login": "PASS",
        "broker publish": "PASS",
    }


@pytest.mark.broker
def test_broker_refused_publish_is_reported(
    tmp_path: Path, broker_factory: Callable[..., Broker]
) -> None:
    acl = tmp_path / "acl"
    acl.write_text("topic read #\n")  # anonymous clients may only read
    broker = broker_factory(["allow_anonymous true", f"acl_file {acl}"])
    probes = probe_broker(cfg_for(tmp_path, broker.port))
    last = probes[-1]
    assert last.name == "broker publish"
    assert last.verdict == "FAIL"
    assert "Not authorized" in last.detail
    assert last.fix is not None
    assert "triage/v1/test-site/desk-1/#" in last.fix


@pytest.mark.broker
def test_broker_bad_password_is_reported(
    tmp_path: Path, broker_factory: Callable[..., Broker]
) -> None:
    pw = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(pw), "desk", "right"], check=True)
    pw.chmod(0o600)
    broker = broker_factory(["allow_anonymous false", f"password_file {pw}"])
    cfg = cfg_for(tmp_path, broker.port, mqtt={"username": "desk", "password": "wrong"})
    last = probe_broker(cfg)[-1]
    assert last.name == "broker login"
    assert last.verdict == "FAIL"
    assert "refused the login" in last.detail
    good = cfg_for(tmp_path, broker.port, mqtt={"username": "desk", "password": "right"})
    assert probe_broker(good)[-1].verdict == "PASS"


def test_broker_unresolvable_and_refused(tmp_path: Path) -> None:
    dns = probe_broker(cfg_for(tmp_path, mqtt={"host": "no-such-host.invalid"}))
    assert [p.verdict for p in dns] == ["FAIL"]
    from tests.broker import free_port

    tcp = probe_broker(cfg_for(tmp_path, free_port()))
    assert [(p.name, p.verdict) for p in tcp] == [("broker dns", "PASS"), ("broker tcp", "FAIL")]


# -- outbox, disk, clock ---------------------------------------------------------------------------
def test_outbox_depth_and_age_read_only(tmp_path: Path) -> None:
    cfg = cfg_for(tmp_path)
    cfg.outbox.path.parent.mkdir(parents=True)
    box = Outbox(cfg.outbox.path, 1000, 3600.0)
    old = time.time() - 7200
    for _ in range(3):
        box.append(lambda seq: WireMessage("t/x", b"{}", False), now=old)
    box.close()
    before = cfg.outbox.path.read_bytes()
    check = check_outbox(cfg)
    assert check.verdict == "WARN"
    assert "3 message(s) waiting, oldest 2 h 00 min" in check.detail
    assert cfg.outbox.path.read_bytes() == before


def test_outbox_not_created_yet(tmp_path: Path) -> None:
    assert check_outbox(cfg_for(tmp_path)).verdict in ("WARN", "FAIL")


def test_disk_and_clock(tmp_path: Path) -> None:
    assert check_disk(cfg_for(tmp_path)).verdict in ("PASS", "WARN", "FAIL")
    assert check_clock(lambda: True).verdict == "PASS"
    unsynced = check_clock(lambda: False)
    assert unsynced.verdict == "WARN"
    assert unsynced.fix is not None
    assert "timedatectl set-ntp" in unsynced.fix


# -- the whole command ---------------------------------------------------------------------------
def test_invalid_config_exits_78(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[mqtt]\nport = 0\n")
    out = io.StringIO()
    assert diagnose(bad, out) == EX_CONFIG
    assert out.getvalue().startswith("FAIL  config")
    assert "mqtt.port" in out.getvalue()


@pytest.mark.broker
def test_diag_json_and_exit_status(tmp_path: Path, mosquitto: Broker) -> None:
    raw = base_config(tmp_path, mosquitto.port)
    cfg_path = write_config(tmp_path / "config.toml", raw)
    out = io.StringIO()
    status = diagnose(cfg_path, out, as_json=True)
    doc = json.loads(out.getvalue())
    names = [c["name"] for c in doc["checks"]]
    assert names[:3] == ["config", "agent", "thermometer"]
    assert "broker publish" in names
    assert "clock" in names
    assert doc["ok"] == (status == 0)
    assert status == (1 if any(c["verdict"] == "FAIL" for c in doc["checks"]) else 0)


def test_diag_cli_process_text_has_no_colour_when_piped(tmp_path: Path) -> None:
    raw = base_config(tmp_path, 1, thermometer={"enabled": True, "port": str(tmp_path / "none")})
    cfg_path = write_config(tmp_path / "config.toml", raw)
    res = subprocess.run(
        [sys.executable, "-m", "agent", "diag", "--config", str(cfg_path), "--no-broker"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert res.returncode == 1, res.stdout + res.stderr
    assert "FAIL  thermometer" in res.stdout
    assert "fix: plug the thermometer in" in res.stdout
    assert "\033[" not in res.stdout


def test_render_colours_only_when_asked(tmp_path: Path) -> None:
    check = check_clock(lambda: False)
    assert "\033[33m" in render(check, True)
    assert "\033[" not in render(check, False)
