"""The ``triage-agent`` command line (agent/cli/main.py): ``config check`` exits 0 or 78 naming the
field and the file, and a bad config makes ``run`` exit 78 with the field named, never a traceback.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli.main import main
from agent.config import EX_CONFIG
from tests.test_config import REPO


def test_config_check_command_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.toml"
    good.write_text(
        '[device]\nsite = "c1"\n'
        '[thermometer]\nport = "simulated"\n'  # the simulated devices are asked for explicitly
        f'[camera]\nsource = "simulated"\n[vision]\nmodels_dir = "{REPO / "models"}"\n'
    )
    assert main(["config", "check", str(good)]) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text("[camera]\nmax_fps = -1\n")
    assert main(["config", "check", str(bad)]) == EX_CONFIG
    err = capsys.readouterr().err
    assert "camera.max_fps = -1" in err
    assert str(bad) in err


def test_run_with_bad_config_exits_78_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[thermometer]\nprotocol = "modbus"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "agent", "run", "--config", str(bad)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == EX_CONFIG
    assert "thermometer.protocol = 'modbus'" in proc.stderr
    assert "Traceback" not in proc.stderr
