"""The model store: every shipped model verified by sha256; tampered or missing files rejected."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agent.cli.model_store import main, verify
from agent.vision.manifest import ModelError, resolve
from tests.conftest import REPO

MODELS = REPO / "models"


def copy_store(tmp_path: Path) -> Path:
    """The committed manifest and model files, copied so that a test may damage them."""
    store = tmp_path / "models"
    store.mkdir()
    for name in ("manifest.json", "centerface.onnx", "mask-classifier.onnx"):
        shutil.copy2(MODELS / name, store / name)
    return store


@pytest.mark.model
def test_committed_models_verify(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--models-dir", str(MODELS)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("ok") and "face-detector" in line for line in lines)
    assert any(line.startswith("ok") and "mask-classifier" in line for line in lines)


@pytest.mark.model
def test_tampered_model_is_rejected_by_verify_and_by_resolve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = copy_store(tmp_path)
    data = bytearray((store / "mask-classifier.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (store / "mask-classifier.onnx").write_bytes(bytes(data))

    assert main(["verify", "--models-dir", str(store)]) == 1
    out = capsys.readouterr().out
    assert "FAIL mask-classifier" in out
    assert "corrupt or was replaced" in out
    with pytest.raises(ModelError, match="corrupt or was replaced"):
        resolve(store, "mask-classifier")
    # the intact model still verifies
    assert any(c.ok for c in verify(store) if c.name == "face-detector")


@pytest.mark.model
def test_missing_classifier_names_the_command_that_retrains_it(tmp_path: Path) -> None:
    store = copy_store(tmp_path)
    (store / "mask-classifier.onnx").unlink()
    checks = {c.name: c for c in verify(store)}
    assert not checks["mask-classifier"].ok
    assert "models/train_mask.py" in checks["mask-classifier"].detail
    with pytest.raises(ModelError, match="missing"):
        resolve(store, "mask-classifier")


def test_broken_manifest_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "manifest.json").write_text('{"models": [{"name": "x"}]}', encoding="utf-8")
    assert main(["verify", "--models-dir", str(tmp_path)]) == 1
    assert "models.0" in capsys.readouterr().err
