"""The ``calibrate`` command (agent/cli/calibrate/): an offset stored and shown, an absurd one
refused, a damaged file exit 78, and a reference measured live against the emulator on a pty. The
same command through a running agent (calibrate/through_agent.py) and the obstacles it names
measuring directly (calibrate/direct.py): tests/test_thermometer_live_calibration.py; the
calibration file itself: tests/test_calibration.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli.main import main
from agent.config import EX_CONFIG
from agent.thermometer.calibration import load_calibration
from agent.thermometer.simulated_port import emulator
from firmware_bridge.trace import generate


def _config_file(tmp_path: Path, port: str = "simulated") -> Path:
    f = tmp_path / "config.toml"
    f.write_text(
        f'[thermometer]\nport = "{port}"\nprotocol = "bridge"\n'
        '[camera]\nsource = "simulated"\n'  # a file names its camera: the simulated one here
        f'[runtime]\nstate_dir = "{tmp_path / "state"}"\n',
        encoding="utf-8",
    )
    return f


def test_cli_offset_then_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config_file(tmp_path)
    assert main(["calibrate", "--config", str(cfg), "--offset", "0.45"]) == 0
    assert main(["calibrate", "--config", str(cfg), "--show"]) == 0
    out = capsys.readouterr().out
    assert '"offset_c": 0.45' in out
    stored = json.loads((tmp_path / "state" / "calibration.json").read_text())
    assert stored["method"] == "manual"


def test_cli_rejects_absurd_offset(tmp_path: Path) -> None:
    cfg = _config_file(tmp_path)
    assert main(["calibrate", "--config", str(cfg), "--offset", "7"]) == 1
    assert not (tmp_path / "state" / "calibration.json").exists()


def test_cli_show_with_corrupt_file_exits_78(tmp_path: Path) -> None:
    cfg = _config_file(tmp_path)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "calibration.json").write_text("{", encoding="utf-8")
    assert main(["calibrate", "--config", str(cfg), "--show"]) == EX_CONFIG


def test_cli_reference_against_live_pty(tmp_path: Path) -> None:
    trace = generate("normal", seed=6)
    emu = emulator("bridge", trace)
    try:
        cfg = _config_file(tmp_path, port=emu.start())
        rc = main(["calibrate", "--config", str(cfg), "--reference", "36.8", "--timeout", "30"])
    finally:
        emu.stop()
    assert rc == 0
    cal = load_calibration(tmp_path / "state" / "calibration.json")
    assert cal is not None
    assert cal.method == "reference"
    assert cal.estimate_c == pytest.approx(trace.presentations[0].plateau_c, abs=0.1)
    assert cal.offset_c == pytest.approx(36.8 - trace.presentations[0].plateau_c, abs=0.1)
