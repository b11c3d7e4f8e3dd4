"""The calibration file (agent/thermometer/calibration.py): atomic, validated, the site offset when
absent (the ``calibrate`` command that writes it: tests/test_cli_calibrate.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import ConfigError, parse_config
from agent.thermometer import build
from agent.thermometer.calibration import (
    Calibration,
    effective_offset,
    load_calibration,
    save_calibration,
)


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
