"""The models the project ships (CenterFace, our mask classifier) in onnxruntime on real images
(their manifest: tests/test_vision_manifest.py; the scene inference: tests/test_vision_scene.py)."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from agent.vision.findings import Box, Frame, MaskProbs
from agent.vision.inference import families
from agent.vision.inference.families.centerface import decode_maps, fit
from agent.vision.inference.families.mask_classifier import OnnxMaskClassifier, crop_face
from agent.vision.manifest import InputSpec, ModelError, ModelSpec, resolve, sha256_file
from tests.conftest import REPO, shared_path
from tools.datasplit import list_images

MODELS = REPO / "models"


def read(path: Path) -> Frame:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, path
    return np.asarray(image, dtype=np.uint8)


def classifier() -> OnnxMaskClassifier:
    spec, path = resolve(MODELS, "mask-classifier")
    model = families.make_mask_classifier(spec, path)
    assert isinstance(model, OnnxMaskClassifier)
    return model


# --- geometry (pure) ---------------------------------------------------------------------------


def test_fit_scales_down_keeps_aspect_and_pads_to_32() -> None:
    frame = np.zeros((720, 1280, 3), dtype=np.uint8)
    image, geo = fit(frame, 640, 480)
    assert image.shape == (384, 640, 3)  # 1280x720 -> 640x360, padded to 384
    assert geo.scale_x == pytest.approx(0.5)
    assert geo.scale_y == pytest.approx(0.5)


def test_fit_never_scales_up() -> None:
    image, geo = fit(np.zeros((100, 90, 3), dtype=np.uint8), 640, 480)
    assert image.shape == (128, 96, 3)
    assert (geo.scale_x, geo.scale_y) == (1.0, 1.0)


def test_decode_maps_places_box_at_heat_peak() -> None:
    heat = np.zeros((10, 12), dtype=np.float32)
    heat[5, 7] = 0.9
    scale = np.zeros((2, 10, 12), dtype=np.float32)
    scale[0, 5, 7] = np.log(20 / 4)  # height 20 px
    scale[1, 5, 7] = np.log(16 / 4)  # width 16 px
    offset = np.zeros((2, 10, 12), dtype=np.float32)
    boxes, scores = decode_maps(heat, scale, offset, 0.5)
    assert scores.tolist() == pytest.approx([0.9])
    cx, cy = (7 + 0.5) * 4, (5 + 0.5) * 4
    assert boxes[0].tolist() == pytest.approx([cx - 8, cy - 10, cx + 8, cy + 10])


def test_crop_face_grows_and_clips() -> None:
    frame = np.zeros((100, 200, 3), dtype=np.uint8)
    crop = crop_face(frame, Box(10, 10, 50, 60, 0.9), 1.5)
    assert crop.shape == (
        73,
        60,
        3,
    )  # 40x50 box grown 1.5x about (30, 35): y from -2.5 clipped to 0
    edge = crop_face(frame, Box(180, 80, 200, 100, 0.9), 2.0)
    assert edge.shape[0] <= 30
    assert edge.shape[1] <= 30


# --- the shipped models without ../shared -------------------------------------------------------


@pytest.mark.model
def test_mask_classifier_returns_one_probability_per_crop() -> None:
    rng = np.random.default_rng(0)
    crops = [
        rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for h, w in [(40, 30), (64, 64), (120, 90)]
    ]
    probs = classifier().classify(crops)
    assert len(probs) == 3
    assert all(0.0 <= p.masked <= 1.0 and 0.0 <= p.worn_wrong <= 1.0 for p in probs)
    assert all(p.masked + p.worn_wrong <= 1.0 + 1e-5 for p in probs)
    assert classifier().classify([]) == []


@pytest.mark.model
def test_wrong_task_is_refused_with_a_clear_error() -> None:
    spec, path = resolve(MODELS, "mask-classifier")
    with pytest.raises(ModelError, match="task 'mask'.*face detector"):
        families.make_face_detector(spec, path)


# --- the family on tiny models built here (onnx: the `dev` extra) ---------------------------------


def tiny_classifier(tmp_path: Path, labels: tuple[str, ...], outputs: int) -> OnnxMaskClassifier:
    """A real ONNX model: input Nx3x8x8 -> mean of each channel (0..2) -> softmax over the first
    ``outputs`` of them, with a manifest entry naming ``labels``."""
    import onnx
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("ReduceMean", ["input"], ["mean"], axes=[2, 3], keepdims=0),
        helper.make_node("Slice", ["mean", "starts", "ends", "axes"], ["picked"]),
        helper.make_node("Softmax", ["picked"], ["prob"], axis=1),
    ]
    consts = [
        helper.make_tensor("starts", TensorProto.INT64, [1], [0]),
        helper.make_tensor("ends", TensorProto.INT64, [1], [outputs]),
        helper.make_tensor("axes", TensorProto.INT64, [1], [1]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, ["N", outputs])],
        initializer=consts,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "tiny.onnx"
    onnx.save(model, str(path))
    spec = ModelSpec(
        name="tiny",
        family="mask-classifier",
        task="mask",
        file=path.name,
        sha256=sha256_file(path),
        input=InputSpec(width=8, height=8, color="RGB", mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0)),
        labels=labels,
        licence="test",
        origin="test",
        made_by="test",
    )
    made = families.make_mask_classifier(spec, path)
    assert isinstance(made, OnnxMaskClassifier)
    return made


def solid(r: int, g: int, b: int) -> Frame:
    """An 8x8 BGR crop of one colour (the tiny model's logits are its R, G, B values)."""
    return np.full((8, 8, 3), (b, g, r), dtype=np.uint8)


@pytest.mark.parametrize(
    "labels",
    [
        ("without_mask", "with_mask", "mask_worn_wrong"),
        ("mask_worn_wrong", "without_mask", "with_mask"),
        ("with_mask", "mask_worn_wrong", "without_mask"),
    ],
)
def test_three_labels_are_mapped_by_name_in_any_order(
    tmp_path: Path, labels: tuple[str, ...]
) -> None:
    model = tiny_classifier(tmp_path, labels, 3)
    # a crop whose logit is high only in the column of one label gets that label's probability
    for cls in ("with_mask", "mask_worn_wrong", "without_mask"):
        rgb = [0, 0, 0]
        rgb[labels.index(cls)] = 20
        probs = model.classify([solid(*rgb)])[0]
        assert isinstance(probs, MaskProbs)
        expected = {"with_mask": (1.0, 0.0), "mask_worn_wrong": (0.0, 1.0)}.get(cls, (0.0, 0.0))
        assert (probs.masked, probs.worn_wrong) == pytest.approx(expected, abs=1e-6)
    even = model.classify([solid(5, 5, 5)] * 40)  # more than one batch
    assert len(even) == 40
    assert [v for p in even for v in (p.masked, p.worn_wrong)] == pytest.approx([1 / 3] * 80)


def test_two_labels_give_no_worn_wrong_probability(tmp_path: Path) -> None:
    model = tiny_classifier(tmp_path, ("with_mask", "without_mask"), 2)
    probs = model.classify([solid(20, 0, 0), solid(0, 20, 0)])
    assert [round(p.masked, 4) for p in probs] == [1.0, 0.0]
    assert [p.worn_wrong for p in probs] == [0.0, 0.0]


def test_an_output_that_does_not_match_the_labels_is_refused(tmp_path: Path) -> None:
    two_out = tiny_classifier(tmp_path, ("without_mask", "with_mask", "mask_worn_wrong"), 2)
    with pytest.raises(ModelError, match=r"output shape \(1, 2\), expected \(1, 3\)"):
        two_out.classify([solid(1, 2, 3)])
    three_out = tiny_classifier(tmp_path, ("without_mask", "with_mask"), 3)
    with pytest.raises(ModelError, match=r"output shape \(1, 3\), expected \(1, 2\)"):
        three_out.classify([solid(1, 2, 3)])


@pytest.mark.parametrize(
    "labels",
    [
        ("with_mask",),
        ("without_mask", "mask_worn_wrong"),
        ("with_mask", "without_mask", "other"),
        ("with_mask", "with_mask", "mask_worn_wrong"),
        ("with_mask", "without_mask", "mask_worn_wrong", "other"),
    ],
)
def test_labels_other_than_two_or_the_three_are_refused(
    tmp_path: Path, labels: tuple[str, ...]
) -> None:
    with pytest.raises(ModelError, match="must be two classes"):
        tiny_classifier(tmp_path, labels, min(3, len(labels)))


# --- real images from ../shared -----------------------------------------------------------------


@pytest.mark.model
@pytest.mark.shared
def test_centerface_finds_the_faces_of_a_group_photo() -> None:
    spec, path = resolve(MODELS, "face-detector")
    detector = families.make_face_detector(spec, path)
    frame = read(shared_path("data", "scenes", "25.jpg"))  # a group photo of about 100 people
    boxes = detector.detect(frame)
    assert len(boxes) >= 60
    h, w = frame.shape[:2]
    assert all(0 <= b.x1 < b.x2 <= w and 0 <= b.y1 < b.y2 <= h for b in boxes)
    assert all(b.score >= spec.thresholds["score"] for b in boxes)


@pytest.mark.model
@pytest.mark.shared
def test_centerface_finds_nothing_in_a_street_without_faces() -> None:
    spec, path = resolve(MODELS, "face-detector")
    detector = families.make_face_detector(spec, path)
    assert detector.detect(read(shared_path("data", "scenes", "hpc203_street.jpg"))) == []


@pytest.mark.model
@pytest.mark.shared
def test_mask_images_of_the_held_out_split_are_classified() -> None:
    data = shared_path("data", "mask")
    items = list_images(data, "test")
    picked = [i for i in items if i.label == 1][:40] + [i for i in items if i.label == 0][:40]
    spec, path = resolve(MODELS, "face-detector")
    detector = families.make_face_detector(spec, path)
    model = classifier()
    correct = 0
    for item in picked:
        image = read(item.path)
        boxes = detector.detect(image)
        crop = (
            crop_face(image, max(boxes, key=lambda b: b.score), model.crop_expand)
            if boxes
            else image
        )
        correct += int((model.classify([crop])[0].masked >= 0.5) == bool(item.label))
    assert correct / len(picked) >= 0.9


@pytest.mark.model
@pytest.mark.shared
def test_hand_labelled_scene_faces_are_mostly_right() -> None:
    scenes = shared_path("data", "scenes")
    model = classifier()
    with (MODELS / "eval" / "scene_faces.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    assert len(rows) >= 200
    frames: dict[str, Frame] = {}
    correct = 0
    for row in rows:
        frame = frames.setdefault(row["scene"], read(scenes / row["scene"]))
        box = Box(float(row["x1"]), float(row["y1"]), float(row["x2"]), float(row["y2"]), 1.0)
        prob = model.classify([crop_face(frame, box, model.crop_expand)])[0].masked
        correct += int((prob >= 0.5) == (row["label"] == "with_mask"))
    assert correct / len(rows) >= 0.9
