"""Model families: shared preprocessing and NMS (pure), and the "bring your own model" decoders
(ultraface, AIZOO SSD, NanoDet) running the reference ONNX files from ../shared on real photos.

The reference manifests used here are the worked examples in docs/byom/*.json, so these tests
also prove that the documented examples are correct (sha256, input spec, labels).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import pytest

from agent.vision.config import VisionConfig
from agent.vision.findings import Box, FaceDetector, Frame
from agent.vision.inference.families import make_face_detector, make_person_detector
from agent.vision.inference.families.aizoo import AizooDetector, anchors, decode
from agent.vision.inference.families.nanodet import NanodetDetector, distribution_to_distance
from agent.vision.inference.families.nms import nms_indices, select
from agent.vision.inference.families.preprocess import FrameError, prepare, resize, to_tensor
from agent.vision.inference.families.session import LEVELS, OnnxModel
from agent.vision.inference.families.ultraface import UltrafaceDetector
from agent.vision.inference.scene import load_scene_inference
from agent.vision.manifest import (
    InputSpec,
    ModelError,
    ModelSpec,
    Optimisation,
    load_manifest,
    resolve,
)
from tests.conftest import REPO, shared_path

BYOM = REPO / "docs" / "byom"


def example_spec(name: str) -> ModelSpec:
    """The single entry of a docs/byom example manifest."""
    return load_manifest(BYOM / name).models[0]


def reference(spec: ModelSpec) -> Path:
    return shared_path("models", "reference", spec.file)


def scene(name: str) -> Frame:
    image = cv2.imread(str(shared_path("data", "scenes", name)))
    assert image is not None, name
    return np.asarray(image, dtype=np.uint8)


def mask_images(cls: str, n: int) -> list[Frame]:
    folder = shared_path("data", "mask", cls)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    out = []
    for p in files[:: max(1, len(files) // n)][:n]:
        img = cv2.imread(str(p))
        assert img is not None, p
        out.append(np.asarray(img, dtype=np.uint8))
    return out


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
    iy = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
    inter = ix * iy
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union > 0 else 0.0


def assert_plausible(boxes: list[Box], frame: Frame, min_aspect: float, max_aspect: float) -> None:
    h, w = frame.shape[:2]
    for b in boxes:
        assert 0 <= b.x1 < b.x2 <= w, b
        assert 0 <= b.y1 < b.y2 <= h, b
        assert min_aspect <= b.height / b.width <= max_aspect, b
        assert 0.0 <= b.score <= 1.0


# --- preprocessing (no ../shared needed) -------------------------------------------------------


def test_stretch_nchw_rgb_normalised() -> None:
    frame = np.zeros((60, 80, 3), dtype=np.uint8)
    frame[:, :, 0] = 255  # pure blue in BGR
    spec = InputSpec(width=40, height=30, color="RGB", mean=(127, 127, 127), std=(128, 128, 128))
    p = prepare(frame, spec)
    assert p.tensor.shape == (1, 3, 30, 40)
    assert p.tensor.dtype == np.float32
    assert np.allclose(p.tensor[0, 2], (255 - 127) / 128)  # blue is the last RGB channel
    assert np.allclose(p.tensor[0, 0], -127 / 128)
    assert (p.letterbox.scale_x, p.letterbox.scale_y) == (0.5, 0.5)


def test_nhwc_bgr_keeps_channel_order() -> None:
    frame = np.zeros((10, 10, 3), dtype=np.uint8)
    frame[:, :, 0] = 200
    spec = InputSpec(width=10, height=10, layout="NHWC", color="BGR", std=(2.0, 1.0, 1.0))
    t = prepare(frame, spec).tensor
    assert t.shape == (1, 10, 10, 3)
    assert np.allclose(t[0, :, :, 0], 100.0)
    assert np.allclose(t[0, :, :, 1:], 0.0)


def test_letterbox_keeps_aspect_pads_and_maps_back() -> None:
    frame = np.full((100, 200, 3), 255, dtype=np.uint8)
    spec = InputSpec(width=64, height=64)
    image, geo = resize(frame, spec, mode="letterbox", pad_value=0)
    assert image.shape == (64, 64, 3)
    assert (image[:32] == 255).all()
    assert (image[32:] == 0).all()  # padding below the image
    assert geo.scale_x == pytest.approx(geo.scale_y)
    boxes = np.array([[20.0, 10.0, 120.0, 90.0]], dtype=np.float32)
    in_input = boxes * np.array([geo.scale_x, geo.scale_y] * 2, dtype=np.float32)
    assert np.allclose(geo.to_frame(in_input), boxes, atol=1e-3)
    # normalised model coordinates map through the input size, and are clipped to the frame
    assert np.allclose(
        geo.normalised_to_frame(np.array([[0.0, 0.0, 1.0, 1.0]], dtype=np.float32)),
        [[0.0, 0.0, 200.0, 100.0]],
    )


def test_to_tensor_is_contiguous_float32() -> None:
    image = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)
    t = to_tensor(image, InputSpec(width=4, height=4))
    assert t.flags["C_CONTIGUOUS"]
    assert t[0, 0, 0, 1] == image[0, 1, 2]  # RGB: channel 0 is the BGR channel 2


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("color", ["RGB", "BGR"])
@pytest.mark.parametrize(
    ("mean", "std"),
    [((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)), ((103.53, 116.28, 123.675), (57.375, 57.12, 58.395))],
)
def test_to_tensor_matches_the_textbook_formula(
    layout: Literal["NCHW", "NHWC"],
    color: Literal["RGB", "BGR"],
    mean: tuple[float, float, float],
    std: tuple[float, float, float],
) -> None:
    """The one-pass conversion gives exactly ``(x - mean) / std`` in the spec's order and layout."""
    image = np.random.default_rng(7).integers(0, 256, (6, 10, 3), dtype=np.uint8)
    spec = InputSpec(width=10, height=6, layout=layout, color=color, mean=mean, std=std)
    pixels = image[:, :, ::-1] if color == "RGB" else image
    expected = (pixels.astype(np.float32) - np.asarray(mean, dtype=np.float32)) * (
        1.0 / np.asarray(std, dtype=np.float32)
    )
    if layout == "NCHW":
        expected = expected.transpose(2, 0, 1)
    t = to_tensor(image, spec)
    assert t.dtype == np.float32
    assert t.flags["C_CONTIGUOUS"]
    assert t.shape == (1, *expected.shape)
    assert np.array_equal(t[0], expected)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((10, 10), dtype=np.uint8),
        np.zeros((10, 10, 4), dtype=np.uint8),
        np.zeros((10, 10, 3), dtype=np.float32),
        np.zeros((0, 10, 3), dtype=np.uint8),
    ],
)
def test_bad_frames_are_refused_clearly(bad: Frame) -> None:
    with pytest.raises(FrameError, match="frame"):
        prepare(bad, InputSpec(width=8, height=8))


# --- NMS and decoders (no ../shared needed) ----------------------------------------------------


def test_nms_suppresses_overlaps_and_keeps_mask_prob() -> None:
    boxes = np.array(
        [[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 10]], dtype=np.float32
    )
    scores = np.array([0.9, 0.8, 0.7, 0.1], dtype=np.float32)
    probs = np.array([0.2, 0.3, 0.95, 0.5], dtype=np.float32)
    out = select(boxes, scores, min_score=0.5, iou=0.5, mask_probs=probs)
    assert [b.x1 for b in out] == [0.0, 50.0]
    assert [b.score for b in out] == pytest.approx([0.9, 0.7])
    assert [b.mask_prob for b in out] == pytest.approx([0.2, 0.95])
    # at a loose IoU only the exact duplicate (IoU 1) is suppressed
    assert nms_indices(boxes, scores, iou=0.99) == [0, 1, 2]


def test_aizoo_anchors_and_zero_offsets_decode_to_anchors() -> None:
    a = anchors()
    assert a.shape == (5972, 4)
    # first anchor: centre 0.5/33 of the 33x33 map, size 0.04 with ratio 1
    assert np.allclose(a[0], [0.5 / 33 - 0.02, 0.5 / 33 - 0.02, 0.5 / 33 + 0.02, 0.5 / 33 + 0.02])
    # second cell along x comes 4 anchors later
    assert a[4, 0] - a[0, 0] == pytest.approx(1 / 33)
    assert np.allclose(decode(np.zeros((5972, 4), dtype=np.float32), a), a, atol=1e-6)


def test_nanodet_distribution_expectation() -> None:
    logits = np.full((1, 32), -50.0, dtype=np.float32)
    for side, bin_ in enumerate((0, 3, 7, 5)):
        logits[0, side * 8 + bin_] = 50.0
    assert np.allclose(distribution_to_distance(logits, 16), [[0, 48, 112, 80]])


def test_unloadable_file_is_a_model_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not an onnx file")
    spec = ModelSpec(
        name="broken", family="ultraface", task="face", file=bad.name, sha256="0" * 64,
        input=InputSpec(width=320, height=240), labels=("background", "face"),
        licence="MIT", origin="test", made_by="test",
    )  # fmt: skip
    with pytest.raises(ModelError, match="cannot be loaded by onnxruntime"):
        OnnxModel(spec, bad)


@pytest.mark.model
@pytest.mark.parametrize("level", ["all", "extended", "basic", "none"])
def test_manifest_optimisation_level_reaches_the_session(level: Optimisation) -> None:
    """A manifest entry's ``optimisation`` is the level onnxruntime opens the model with, and the
    shipped mask classifier gives the same answer at every level."""
    spec = next(
        m for m in load_manifest(REPO / "models" / "manifest.json").models if m.task == "mask"
    )
    model = OnnxModel(spec.model_copy(update={"optimisation": level}), REPO / "models" / spec.file)
    assert model.optimisation == LEVELS[level]
    tensor = np.random.default_rng(3).random((1, 3, 64, 64), dtype=np.float32) * 255
    baseline = OnnxModel(spec, REPO / "models" / spec.file).run(tensor)
    for got, want in zip(model.run(tensor), baseline, strict=True):
        assert np.allclose(got, want, atol=1e-4)


def test_unknown_optimisation_level_is_refused_naming_the_field() -> None:
    entry = json.loads((REPO / "docs" / "byom" / "aizoo.json").read_text())["models"][0]
    with pytest.raises(ValueError, match="optimisation"):
        ModelSpec.model_validate({**entry, "optimisation": "fastest"})


# --- the reference models on real images (need ../shared) --------------------------------------


@pytest.fixture(scope="module")
def rfb320() -> UltrafaceDetector:
    spec = example_spec("ultraface-rfb320.json")
    return UltrafaceDetector(spec, reference(spec))


@pytest.fixture(scope="module")
def rfb640() -> UltrafaceDetector:
    spec = example_spec("ultraface-rfb640-masked.json")
    return UltrafaceDetector(spec, reference(spec))


@pytest.fixture(scope="module")
def aizoo() -> AizooDetector:
    spec = example_spec("aizoo.json")
    return AizooDetector(spec, reference(spec))


@pytest.fixture(scope="module")
def nanodet() -> NanodetDetector:
    spec = example_spec("nanodet.json")
    return NanodetDetector(spec, reference(spec))


@pytest.mark.model
@pytest.mark.shared
@pytest.mark.parametrize(("image", "faces"), [("12.jpg", 5), ("13.jpg", 2), ("19.jpg", 5)])
def test_face_detectors_agree_on_group_photos(
    rfb320: UltrafaceDetector,
    rfb640: UltrafaceDetector,
    aizoo: AizooDetector,
    image: str,
    faces: int,
) -> None:
    frame = scene(image)
    found = {
        "rfb320": rfb320.detect(frame),
        "rfb640": rfb640.detect(frame),
        "aizoo": aizoo.detect(frame),
    }
    for name, boxes in found.items():
        assert len(boxes) == faces, (name, boxes)
        assert_plausible(boxes, frame, 0.8, 2.2)
    # three independent models put the faces in the same places
    for b in found["rfb320"]:
        assert max(iou(b, o) for o in found["aizoo"]) > 0.5, b
        assert max(iou(b, o) for o in found["rfb640"]) > 0.5, b
    assert all(b.mask_prob is None for b in found["rfb320"])


@pytest.mark.model
@pytest.mark.shared
def test_no_faces_where_there_are_none(rfb320: UltrafaceDetector, aizoo: AizooDetector) -> None:
    # a distant pedestrian seen from the side and a street scene: no frontal face to find
    for image in ("hpc203_person.jpg", "hpc203_street.jpg"):
        assert rfb320.detect(scene(image)) == []
        assert aizoo.detect(scene(image)) == []


@pytest.mark.model
@pytest.mark.shared
@pytest.mark.parametrize("family", ["rfb640", "aizoo"])
def test_mask_prob_separates_masked_from_unmasked_faces(
    family: str, rfb640: UltrafaceDetector, aizoo: AizooDetector
) -> None:
    detectors: dict[str, FaceDetector] = {"rfb640": rfb640, "aizoo": aizoo}
    detector = detectors[family]
    verdicts: dict[str, list[float]] = {}
    for cls in ("with_mask", "without_mask"):
        probs = []
        for image in mask_images(cls, 30):
            boxes = detector.detect(image)
            if boxes:
                best = max(boxes, key=lambda b: b.score)
                assert best.mask_prob is not None
                probs.append(best.mask_prob)
        assert len(probs) >= 24, f"{family} found a face in only {len(probs)}/30 {cls} crops"
        verdicts[cls] = probs
    masked = np.asarray(verdicts["with_mask"])
    unmasked = np.asarray(verdicts["without_mask"])
    assert (masked >= 0.5).mean() >= 0.85, masked
    assert (unmasked < 0.5).mean() >= 0.9, unmasked
    assert masked.mean() > 0.8 > 0.2 > unmasked.mean()


@pytest.mark.model
@pytest.mark.shared
def test_mixed_scene_has_masked_and_unmasked_faces(
    rfb640: UltrafaceDetector, aizoo: AizooDetector
) -> None:
    frame = scene("masked_img3.jpg")
    for detector in (rfb640, aizoo):
        probs = [b.mask_prob for b in detector.detect(frame)]
        assert sum(1 for p in probs if p is not None and p >= 0.5) >= 2, probs
        assert sum(1 for p in probs if p is not None and p < 0.5) >= 2, probs


@pytest.mark.model
@pytest.mark.shared
def test_nanodet_finds_people(nanodet: NanodetDetector, rfb320: UltrafaceDetector) -> None:
    lone = scene("hpc203_person.jpg")
    people = nanodet.detect(lone)
    assert len(people) == 1
    assert_plausible(people, lone, 1.5, 5.0)  # a standing person is tall and narrow
    group = scene("12.jpg")
    people = nanodet.detect(group)
    assert 4 <= len(people) <= 7
    # every face lies inside some person box
    for face in rfb320.detect(group):
        cx, cy = (face.x1 + face.x2) / 2, (face.y1 + face.y2) / 2
        assert any(p.x1 <= cx <= p.x2 and p.y1 <= cy <= p.y2 for p in people), face


@pytest.mark.model
@pytest.mark.shared
def test_nanodet_boxes_mirror_with_the_frame(nanodet: NanodetDetector) -> None:
    """Guards the decode geometry: a wrong grid offset shifts every box the same way."""
    frame = scene("15.jpg")
    w = frame.shape[1]
    boxes = nanodet.detect(frame)
    mirrored = nanodet.detect(np.ascontiguousarray(frame[:, ::-1]))
    assert len(boxes) >= 5
    flipped_back = [Box(w - b.x2, b.y1, w - b.x1, b.y2, b.score) for b in mirrored]
    matched = [max(iou(b, o) for o in flipped_back) for b in boxes]
    assert float(np.median(matched)) > 0.85, matched


@pytest.mark.model
@pytest.mark.shared
def test_manifest_that_does_not_match_the_file_is_refused() -> None:
    aizoo_spec = example_spec("aizoo.json")
    wrong_size = aizoo_spec.model_copy(
        update={"input": aizoo_spec.input.model_copy(update={"width": 320, "height": 240})}
    )
    with pytest.raises(ModelError, match=r"takes input shape \[1, 3, 260, 260\]"):
        AizooDetector(wrong_size, reference(aizoo_spec))
    nanodet_spec = example_spec("nanodet.json")
    as_ultraface = nanodet_spec.model_copy(update={"family": "ultraface"})
    with pytest.raises(ModelError, match="ultraface family expects 2"):
        UltrafaceDetector(as_ultraface, reference(nanodet_spec))
    no_person = nanodet_spec.model_copy(update={"labels": tuple(f"c{i}" for i in range(80))})
    with pytest.raises(ModelError, match="no 'person'"):
        NanodetDetector(no_person, reference(nanodet_spec))


# --- bring your own model: a technician's manifest in a folder of their own --------------------


def byo_folder(
    tmp_path: Path, examples: list[str], also: tuple[tuple[ModelSpec, Path], ...] = ()
) -> Path:
    """A models folder as a technician would set it up: one manifest.json + the ONNX files."""
    folder = tmp_path / "byo-models"
    folder.mkdir()
    entries = [(example_spec(name), reference(example_spec(name))) for name in examples]
    entries += also
    for spec, source in entries:
        shutil.copyfile(source, folder / spec.file)
    manifest = {"models": [spec.model_dump(mode="json") for spec, _ in entries]}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


@pytest.mark.model
@pytest.mark.shared
def test_byo_manifest_resolves_every_example(tmp_path: Path) -> None:
    examples = sorted(p.name for p in BYOM.glob("*.json"))
    assert len(examples) == 4
    folder = byo_folder(tmp_path, examples)
    frame = scene("12.jpg")
    for name in examples:
        spec, path = resolve(folder, example_spec(name).name)
        assert path == folder / spec.file
        build = make_person_detector if spec.task == "person" else make_face_detector
        detector = build(spec, path, threads=1)
        assert type(detector).__module__ == f"agent.vision.inference.families.{spec.family}"
        assert len(detector.detect(frame)) == 5, spec.name


@pytest.mark.model
@pytest.mark.shared
def test_byo_person_model_cannot_be_used_as_face_detector(tmp_path: Path) -> None:
    folder = byo_folder(tmp_path, ["nanodet.json"])
    spec, path = resolve(folder, example_spec("nanodet.json").name)
    with pytest.raises(ModelError, match="task 'person'; a face detector needs task face"):
        make_face_detector(spec, path)


@pytest.mark.model
@pytest.mark.shared
def test_byo_file_that_was_replaced_is_refused(tmp_path: Path) -> None:
    folder = byo_folder(tmp_path, ["aizoo.json"])
    spec = example_spec("aizoo.json")
    # the technician dropped a different model under the same name
    shutil.copyfile(reference(example_spec("nanodet.json")), folder / spec.file)
    with pytest.raises(ModelError, match="corrupt or was replaced"):
        resolve(folder, spec.name)


@pytest.mark.model
@pytest.mark.shared
def test_config_points_the_agent_at_byo_models(tmp_path: Path) -> None:
    """vision.models_dir / face_model / person_model select BYO models; the scene inference uses
    the AIZOO model's own mask verdicts and NanoDet's person boxes."""
    shipped = REPO / "models"
    mask = resolve(shipped, VisionConfig().mask_model)  # a missing shipped model fails the test
    folder = byo_folder(tmp_path, ["aizoo.json", "nanodet.json"], also=(mask,))
    config = VisionConfig(
        models_dir=folder, face_model="byo-face-mask-aizoo", person_model="byo-person-nanodet"
    )
    findings = load_scene_inference(config).analyse(scene("masked_img3.jpg"), at=1.0)
    assert sum(f.masked for f in findings.faces) >= 2, findings.faces
    assert sum(not f.masked for f in findings.faces) >= 2, findings.faces
    assert findings.persons is not None
    assert len(findings.persons) >= 3
