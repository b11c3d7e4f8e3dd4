"""The model manifest (agent/vision/manifest.py): the shipped models listed with their cards and
metrics, and the printable label (name and sha256 prefix) each model is reported by.
"""

from __future__ import annotations

import pytest

from agent.vision.manifest import label, load_manifest
from tests.conftest import REPO

MODELS = REPO / "models"


@pytest.mark.model
def test_manifest_lists_both_shipped_models_with_cards() -> None:
    manifest = load_manifest(MODELS / "manifest.json")
    names = {m.name: m for m in manifest.models}
    assert {"face-detector", "mask-classifier"} <= set(names)
    for spec in names.values():
        assert spec.card is not None
        assert (MODELS / spec.card).is_file()
        assert spec.metrics, f"{spec.name} has no measured metrics"
    assert (MODELS / names["mask-classifier"].file).stat().st_size <= 2 * 1024 * 1024


def test_label_is_the_name_and_the_sha256_prefix_in_printable_ascii() -> None:
    spec = load_manifest(MODELS / "manifest.json").models[0]
    assert label(spec) == f"{spec.name}@{spec.sha256[:8]}"
    odd = spec.model_copy(update={"name": "détecteur\n" + "x" * 40})
    assert label(odd) == "d?tecteur?" + "x" * 14 + "@" + spec.sha256[:8]
