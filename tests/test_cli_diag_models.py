"""The diag models check loads models through `run`'s own loader: it FAILs exactly when
`triage-agent run` exits 78 on the models (unknown family, missing person model), and PASSes on the
shipped models."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.cli.diag.models import check_models
from agent.config import EX_CONFIG
from agent.service.pipeline import run
from agent.vision.inference import families
from tests.conftest import REPO, base_config, write_config
from tests.diag_helpers import cfg_for

MODELS = REPO / "models"


def _camera(models_dir: Path, **vision: Any) -> dict[str, Any]:
    return {
        "camera": {"enabled": True, "source": "simulated"},
        "vision": {"models_dir": str(models_dir), **vision},
    }


def _run_exit_status(tmp_path: Path, sections: dict[str, Any]) -> tuple[int, str]:
    cfg_path = write_config(tmp_path / "run.toml", base_config(tmp_path, 1, **sections))
    res = subprocess.run(
        [sys.executable, "-m", "agent", "run", "--config", str(cfg_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    return res.returncode, res.stderr


def _models_with_family(tmp_path: Path, family: str) -> Path:
    """The shipped models, but the face detector's manifest entry names ``family``."""
    out = tmp_path / "models"
    out.mkdir()
    manifest = json.loads((MODELS / "manifest.json").read_text())
    for entry in manifest["models"]:
        (out / entry["file"]).symlink_to(MODELS / entry["file"])
        if entry["name"] == "face-detector":
            entry["family"] = family
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


@pytest.mark.model
def test_shipped_models_pass(tmp_path: Path) -> None:
    cfg = cfg_for(tmp_path, **_camera(MODELS))
    check = check_models(cfg)
    assert check.verdict == "PASS", check
    assert f"face {cfg.vision.face_model}, mask {cfg.vision.mask_model}" in check.detail
    assert "loaded as `run` loads them" in check.detail


@pytest.mark.model
def test_missing_person_model_fails_like_run(tmp_path: Path) -> None:
    sections = _camera(MODELS, person_model="no-such-person-model")
    check = check_models(cfg_for(tmp_path, **sections))
    assert check.verdict == "FAIL"
    assert "no-such-person-model" in check.detail
    status, stderr = _run_exit_status(tmp_path, sections)
    assert status == EX_CONFIG, stderr
    assert "no-such-person-model" in stderr


@pytest.mark.model
def test_family_the_manifest_does_not_know_fails_like_run(tmp_path: Path) -> None:
    sections = _camera(_models_with_family(tmp_path, "no-such-family"), face_model="face-detector")
    check = check_models(cfg_for(tmp_path, **sections))
    assert check.verdict == "FAIL"
    assert "models.0.family" in check.detail
    assert check.fix is not None
    status, stderr = _run_exit_status(tmp_path, sections)
    assert status == EX_CONFIG, stderr
    assert "models.0.family" in stderr


@pytest.mark.model
def test_family_missing_from_the_registry_fails_like_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # centerface is a valid manifest family; take it out of the registry as an agent without
    # that family would be: the manifest loads, the loader refuses.
    monkeypatch.delitem(families.FAMILIES, "centerface")
    cfg = cfg_for(tmp_path, **_camera(MODELS, face_model="face-detector"))
    check = check_models(cfg)
    assert check.verdict == "FAIL"
    assert "family 'centerface', which this agent cannot run" in check.detail
    assert run(cfg) == EX_CONFIG  # the service's own entry point, same process, same registry


def test_camera_disabled_skips_like_run_loads_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "no-models-here"
    assert check_models(cfg_for(tmp_path, vision={"models_dir": str(missing)})).verdict == "SKIP"
