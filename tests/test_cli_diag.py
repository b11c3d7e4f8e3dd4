"""Tests of `triage-agent diag` as a whole (runner, --json, exit status, the CLI process) and of
its small checks (outbox through the outbox's API, disk, clock, calibration)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.cli.diag import diagnose
from agent.cli.diag.calibration import check_calibration
from agent.cli.diag.clock import check_clock
from agent.cli.diag.disk import check_disk
from agent.cli.diag.outbox import check_outbox
from agent.cli.diag.runner import render
from agent.config import EX_CONFIG, ConfigError
from agent.thermometer.calibration import calibration_path, effective_offset
from agent.wire.contract import WireMessage
from agent.wire.outbox import Outbox
from tests.broker import Broker
from tests.conftest import base_config, write_config
from tests.diag_helpers import cfg_for


# -- outbox, disk, clock ---------------------------------------------------------------------------
def test_outbox_depth_and_age_read_only(tmp_path: Path) -> None:
    cfg = cfg_for(tmp_path)
    cfg.outbox.path.parent.mkdir(parents=True)
    box = Outbox(cfg.outbox.path, 1000, 3600.0, mono=lambda: time.monotonic() - 7200)
    for _ in range(3):  # stored two hours ago, by the monotonic clock (ages are on it)
        box.append(lambda seq: WireMessage("t/x", b"{}", False))
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


def test_calibration_loaded_as_run_loads_it(tmp_path: Path) -> None:
    cfg = cfg_for(tmp_path, thermometer={"enabled": True}, screening={"site_offset_c": 0.4})
    ok = check_calibration(cfg)
    assert ok.verdict == "PASS"
    assert "+0.40 °C from screening.site_offset_c" in ok.detail
    path = calibration_path(cfg.screening, cfg.runtime.state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    with pytest.raises(ConfigError):
        effective_offset(cfg.screening, cfg.runtime.state_dir)  # what `run` does: exit 78
    bad = check_calibration(cfg)
    assert bad.verdict == "FAIL"
    assert bad.fix is not None
    assert "triage-agent calibrate" in bad.fix
    assert check_calibration(cfg_for(tmp_path)).verdict == "SKIP"  # thermometer disabled
