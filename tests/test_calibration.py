"""The calibration file (atomic, validated) and the ``calibrate`` command, live against a pty."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli.main import main
from agent.config import EX_CONFIG, ConfigError, parse_config
from agent.thermometer import build
from agent.thermometer.calibration import (
    Calibration,
    effective_offset,
    load_calibration,
    save_calibration,
)
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


def test_save_load_round_trip_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "state" / "calibration.json"
    cal = Calibration(offset_c=0.7, at=1.0, method="reference", reference_c=36.6, estimate_c=35.9)
    save_calibration(path, cal)
    save_calibration(path, cal)  # replacing an existing file
    assert load_calibration(path) == cal
    assert [p.name for p in path.parent.iterdir()] == ["calibration.json"]


def test_missing_file_means_site_offset(tmp_path: Path) -> None:
    cfg = parse_config(
        {"runtime": {"state_dir": str(tmp_path)}, "screening": {"site_offset_c": 0.4}}
    )
    assert effective_offset(cfg.screening, cfg.runtime.state_dir) == 0.4
    save_calibration(
        tmp_path / "calibration.json", Calibration(offset_c=-0.3, at=0, method="manual")
    )
    assert effective_offset(cfg.screening, cfg.runtime.state_dir) == -0.3
    _, analysers = build(cfg.thermometer, cfg.screening, cfg.runtime.state_dir)
    assert getattr(analysers[0], "offset_c", None) == -0.3


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[]",
        '{"version": 1}',
        '{"version": 9, "offset_c": 0}',
        '{"version": 1, "offset_c": 9}',
    ],
)
def test_corrupt_file_is_a_config_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "calibration.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match="re-run `triage-agent calibrate`"):
        load_calibration(path)


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
