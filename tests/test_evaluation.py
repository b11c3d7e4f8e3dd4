"""``make eval-mask``: the shipped models (and AIZOO) on a tiny labelled folder built at test time."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import REPO, shared_path
from tools.datasplit import list_images, split_of
from tools.eval_mask import EXIT_DATA, WORN_WRONG, Prediction, main, scene_samples, score

MODELS = REPO / "models"


def tiny_folder(tmp_path: Path, per_class: int = 5) -> Path:
    """with_mask/ and without_mask/ holding held-out (test split) images from ../shared."""
    items = list_images(shared_path("data", "mask"), "test")
    out = tmp_path / "faces"
    for label, cls in enumerate(("without_mask", "with_mask")):
        (out / cls).mkdir(parents=True)
        for item in [i for i in items if i.label == label][:per_class]:
            shutil.copy2(item.path, out / cls / item.path.name)
    return out


def last_json(out: str) -> dict[str, object]:
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def test_score_counts_per_class_recall() -> None:
    preds = [
        Prediction(0.9, True),
        Prediction(0.2, True),
        Prediction(0.7, False),
        Prediction(0.1, True),
    ]
    s = score(preds, [1, 1, 0, 0])
    assert (s.n, s.accuracy, s.recall_with_mask, s.recall_without_mask) == (4, 0.5, 0.5, 0.5)
    assert s.face_found == 0.75


def test_three_class_scores_use_the_agents_verdict_and_a_confusion_matrix() -> None:
    preds = [
        Prediction(0.9, True),  # with_mask -> masked
        Prediction(0.3, True, worn_wrong_prob=0.6),  # with_mask -> worn wrong
        Prediction(0.1, True, worn_wrong_prob=0.2),  # without_mask -> unmasked
        Prediction(0.6, True, worn_wrong_prob=0.3),  # worn wrong -> masked
        Prediction(0.2, True, worn_wrong_prob=0.5),  # worn wrong -> worn wrong
    ]
    s = score(preds, [1, 1, 0, 2, 2], classes=3)
    # masked against not masked: a mask worn wrong is "not masked"
    assert (s.recall_with_mask, s.recall_without_mask) == (0.5, round(2 / 3, 4))
    t = s.three_class
    assert t is not None
    assert t["confusion"] == [[1, 0, 0], [0, 1, 1], [0, 1, 1]]
    assert (t["recall_mask_worn_wrong"], t["precision_mask_worn_wrong"]) == (0.5, 0.5)
    assert t["accuracy"] == 0.6
    assert score(preds, [1, 1, 0, 2, 2]).three_class is None
    assert "three_class" not in score(preds, [1, 1, 0, 2, 2]).as_dict()


def test_split_is_deterministic_and_roughly_70_10_20() -> None:
    names = [f"img{i}.jpg" for i in range(2000)]
    splits = [split_of("with_mask", n) for n in names]
    assert splits == [split_of("with_mask", n) for n in names]
    assert 0.65 < splits.count("train") / 2000 < 0.75
    assert 0.07 < splits.count("val") / 2000 < 0.13
    assert 0.16 < splits.count("test") / 2000 < 0.24


def test_missing_folder_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "with_mask").mkdir()
    code = main(["--data", str(tmp_path), "--models-dir", str(MODELS)])
    assert code == EXIT_DATA
    assert "without_mask" in capsys.readouterr().err


@pytest.mark.model
@pytest.mark.shared
def test_scene_labels_take_the_third_class_and_skip_unknown_ones(tmp_path: Path) -> None:
    scene = np.full((120, 160, 3), 128, dtype=np.uint8)
    assert cv2.imwrite(str(tmp_path / "a.jpg"), scene)
    labels = tmp_path / "faces.csv"
    labels.write_text(
        "# comment\nscene,x1,y1,x2,y2,label\n"
        "a.jpg,10,10,40,40,with_mask\na.jpg,50,10,80,40,mask_worn_wrong\n"
        "a.jpg,90,10,120,40,without_mask\na.jpg,10,60,40,90,mask_under_chin\n"
        "missing.jpg,10,10,40,40,with_mask\n",
        encoding="utf-8",
    )
    skipped: list[str] = []
    samples = list(scene_samples(labels, tmp_path, skipped))
    assert [s.label for s in samples] == [1, WORN_WRONG, 0]
    assert all(s.image.shape[2] == 3 for s in samples)
    assert skipped == ["a.jpg:10,60 (mask_under_chin)", "missing.jpg:10,10 (with_mask)"]


def test_eval_mask_prints_json_last(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tiny_folder(tmp_path)
    (data / "with_mask" / "broken.jpg").write_bytes(b"not a jpeg")
    assert main(["--data", str(data), "--models-dir", str(MODELS)]) == 0
    result = last_json(capsys.readouterr().out)
    assert result["n"] == 10
    assert result["skipped"] == 1
    for key in ("accuracy", "recall_with_mask", "recall_without_mask"):
        assert 0.0 <= float(str(result[key])) <= 1.0
    assert float(str(result["accuracy"])) >= 0.8
    assert "baseline" not in result


@pytest.mark.model
@pytest.mark.shared
def test_eval_mask_runs_the_aizoo_baseline_side_by_side(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tiny_folder(tmp_path, per_class=3)
    reference = shared_path("models", "reference")
    args = ["--data", str(data), "--models-dir", str(MODELS), "--baseline", "aizoo"]
    assert main([*args, "--reference-dir", str(reference)]) == 0
    out = capsys.readouterr().out
    rows = [line.split()[0] for line in out.splitlines() if line.strip()]
    assert rows.index("aizoo") == rows.index("mask-classifier") + 1  # side by side in the table
    result = last_json(out)
    baseline = result["baseline"]
    assert isinstance(baseline, dict)
    assert baseline["model"] == "aizoo"
    assert baseline["n"] == result["n"] == 6


@pytest.mark.model
@pytest.mark.shared
@pytest.mark.slow
def test_shipped_classifier_beats_aizoo_on_hand_labelled_scene_faces(
    capsys: pytest.CaptureFixture[str],
) -> None:
    scenes = shared_path("data", "scenes")
    reference = shared_path("models", "reference")
    args = ["--scenes", str(MODELS / "eval" / "scene_faces.csv"), "--scenes-dir", str(scenes)]
    args += ["--models-dir", str(MODELS), "--baseline", "aizoo", "--reference-dir", str(reference)]
    assert main(args) == 0
    result = last_json(capsys.readouterr().out)
    baseline = result["baseline"]
    assert isinstance(baseline, dict)
    assert result["n"] == baseline["n"] == 404
    assert float(str(result["accuracy"])) > float(str(baseline["accuracy"]))
    assert float(str(result["accuracy"])) >= 0.98


@pytest.mark.model
@pytest.mark.shared
def test_real_mode_measures_only_held_out_real_worn_wrong_photos(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = shared_path("data", "mask", "with_mask")
    masks = tmp_path / "mask"
    (masks / "with_mask").mkdir(parents=True)
    for name in ("37.jpg", "229.jpg"):  # test split and train split
        shutil.copy2(source / name, masks / "with_mask" / name)
    assert (split_of("with_mask", "37.jpg"), split_of("with_mask", "229.jpg")) == ("test", "train")
    listing = tmp_path / "real.csv"
    listing.write_text(
        "# comment\nfile,split,what\n37.jpg,test,nose\n229.jpg,train,chin\ngone8.jpg,test,x\n",
        encoding="utf-8",
    )
    assert split_of("with_mask", "gone8.jpg") == "test"
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    face = cv2.imread(str(source / "37.jpg"))
    assert face is not None
    scene = np.zeros((400, 400, 3), np.uint8)
    scene[100 : 100 + face.shape[0], 100 : 100 + face.shape[1]] = face[:300, :300]
    assert cv2.imwrite(str(scenes / "s.png"), scene)
    faces = tmp_path / "faces.csv"
    faces.write_text(
        "scene,x1,y1,x2,y2,label\ns.png,100,100,200,200,mask_worn_wrong\n"
        "s.png,0,0,50,50,with_mask\n",
        encoding="utf-8",
    )
    args = ["--real", str(listing), "--mask-dir", str(masks), "--models-dir", str(MODELS)]
    assert main([*args, "--scene-faces", str(faces), "--scenes-dir", str(scenes)]) == 0
    captured = capsys.readouterr()
    result = last_json(captured.out)
    photos = result["photos"]
    assert isinstance(photos, dict)
    assert sorted(photos) == ["s.png:100,100", "with_mask/37.jpg"]  # not the train-split one
    verdicts = result["verdicts"]
    assert isinstance(verdicts, dict)
    assert sum(verdicts.values()) == result["n"] == 2
    wrong = sum(p["verdict"] == "worn_wrong" for p in photos.values())
    assert result["recall_mask_worn_wrong"] == wrong / 2
    assert "gone8.jpg" in captured.err
    assert "with_mask/37.jpg" in captured.out.splitlines()[2]


def test_the_real_worn_wrong_list_states_each_photos_own_split_once() -> None:
    """The list's ``split`` column is what training and evaluation derive from the file name."""
    listing = MODELS / "eval" / "worn_wrong_real.csv"
    lines = [
        ln for ln in listing.read_text(encoding="utf-8").splitlines() if not ln.startswith("#")
    ]
    rows = list(csv.DictReader(lines))
    names = [r["file"] for r in rows]
    assert len(names) == len(set(names))
    assert [r["split"] for r in rows] == [split_of("with_mask", n) for n in names]
    assert {r["split"] for r in rows} == {"train", "val", "test"}
