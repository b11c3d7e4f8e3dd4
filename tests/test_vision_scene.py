"""The scene inference (agent/vision/inference/scene.py) with the shipped models in onnxruntime: the
models it loaded named, a missing model named, masked told from unmasked on a real street photo.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.vision.config import VisionConfig
from agent.vision.inference.scene import OnnxSceneInference, load_scene_inference
from agent.vision.manifest import ModelError, label, load_manifest
from tests.conftest import shared_path
from tests.test_vision_models import MODELS, read


@pytest.mark.model
def test_scene_inference_names_the_models_it_loaded() -> None:
    vision = VisionConfig(models_dir=MODELS)
    scene = load_scene_inference(vision)
    named = {s.name: label(s) for s in load_manifest(MODELS / "manifest.json").models}
    assert scene.models["face"] == named[vision.face_model]
    assert scene.models["mask"] == named[vision.mask_model]
    assert scene.models.get("person") == (
        named[vision.person_model] if vision.person_model is not None else None
    )
    without = load_scene_inference(vision.model_copy(update={"person_model": None}))
    assert set(without.models) == {"face", "mask"}


@pytest.mark.model
def test_scene_analyser_reports_missing_model_name(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not in"):
        load_scene_inference(VisionConfig(models_dir=MODELS, face_model="no-such-model"))


@pytest.mark.model
@pytest.mark.shared
def test_scene_analyser_tells_masked_from_unmasked_in_a_street_photo() -> None:
    analyser = load_scene_inference(VisionConfig(models_dir=MODELS))
    assert isinstance(analyser, OnnxSceneInference)
    findings = analyser.analyse(read(shared_path("data", "scenes", "img3.jpg")), at=1000.0)
    assert findings.at == 1000.0
    assert findings.persons is not None
    assert len(findings.persons) >= 5
    assert len(findings.faces) >= 8
    masked = sum(f.masked for f in findings.faces)
    assert masked >= 4
    assert len(findings.faces) - masked >= 1  # the man on the left wears none
