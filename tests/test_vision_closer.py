"""The closer look at small faceless people (agent.vision.inference.closer): head windows, who is
looked at and at what scale; on the real models, faces of a group photo shrunk to the back of the
frame are found that the whole frame missed, none twice, and stay found through the detection
gate between two person detections; a scene whose faces were all found costs no look."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from agent.vision import gate_settings
from agent.vision.config import VisionConfig
from agent.vision.findings import Box, FaceFinding, Frame
from agent.vision.geometry import iou
from agent.vision.inference.closer import (
    ALIGN,
    HEAD_SHARE,
    CloserSettings,
    head_window,
    look_closer,
    looks,
)
from agent.vision.inference.gate import DetectionGate
from agent.vision.inference.scene import OnnxSceneInference, load_scene_inference
from bench.face_size_curve import shrunk_to_back
from tests.conftest import REPO
from tests.test_vision_crowd import Fixed, photo
from tests.vision_media import desk, mask_faces


def test_the_head_window_is_the_top_of_the_box_with_a_margin_on_the_grid() -> None:
    person = Box(200, 100, 240, 220, 0.9)  # 40 px wide, 120 tall
    x1, y1, x2, y2 = head_window(person, 640, 480)
    assert (x1, y1, x2, y2) == (184, 88, 256, 144)
    assert all(v % ALIGN == 0 for v in (x1, y1, x2, y2))
    assert head_window(Box(630, 2, 660, 90, 0.9), 640, 480) == (616, 0, 640, 32)  # clipped


def test_only_small_people_without_a_face_are_looked_at() -> None:
    small = Box(100, 100, 130, 190, 0.9)
    with_face = Box(300, 100, 330, 190, 0.9)
    wide = Box(450, 50, 560, 400, 0.9)
    face = FaceFinding(Box(308, 102, 322, 118, 0.9), 0.1)
    got = looks([small, with_face, wide], [face], 640, 480, CloserSettings())
    assert len(got) == 1
    window, scale = got[0]
    assert window == head_window(small, 640, 480)
    assert scale == pytest.approx(min(3.0, 40.0 / (30 * HEAD_SHARE)))
    assert looks([small], [], 640, 480, CloserSettings(max_looks=0)) == []


def test_overlapping_heads_are_one_window_and_the_looks_are_capped() -> None:
    queue = [
        Box(100 + 24 * i, 200, 124 + 24 * i, 260, 0.9) for i in range(3)
    ]  # shoulder to shoulder
    apart = [Box(20 + 120 * i, 20, 44 + 120 * i, 80, 0.9) for i in range(5)]
    got = looks(queue, [], 640, 480, CloserSettings())
    assert len(got) == 1
    window = got[0][0]
    assert window[0] <= 100
    assert window[2] >= 172
    assert len(looks(queue + apart, [], 640, 480, CloserSettings(max_looks=4))) == 4
    # a person whose face would be nearly large enough gains too little (under 1.25x)
    assert looks([Box(100, 100, 179, 300, 0.9)], [], 640, 480, CloserSettings()) == []
    ((_, scale),) = looks([Box(100, 100, 160, 300, 0.9)], [], 640, 480, CloserSettings())
    assert scale == pytest.approx(40 / (60 * HEAD_SHARE))


def test_the_look_uses_its_own_score_and_keeps_faces_inside_the_window() -> None:
    person = Box(300, 200, 330, 290, 0.9)
    windows = looks([person], [], 640, 480, CloserSettings())
    ((window, scale),) = windows
    assert window == head_window(person, 640, 480)
    w = (window[2] - window[0]) * scale
    inside = Box(w / 2 - 15, 10, w / 2 + 15, 45, 0.45)  # upscaled-window pixels
    at_edge = Box(w - 20, 10, w, 40, 0.9)  # cut by the window's right border
    detector = Fixed([inside, at_edge, Box(5, 5, 20, 20, 0.3)])
    found = look_closer(detector, np.zeros((480, 640, 3), np.uint8), windows, CloserSettings())
    assert detector.seen == [0.4]
    assert detector.min_score == 0.5  # given back
    assert len(found) == 1
    face = found[0]
    assert window[0] <= face.x1 < face.x2 <= window[2]
    assert face.width == pytest.approx(30 / scale, rel=0.05)


@pytest.fixture(scope="module")
def analyser() -> OnnxSceneInference:
    return load_scene_inference(VisionConfig(models_dir=REPO / "models"))


def back_of_queue(frame: Frame, s: float) -> Frame:
    """``frame`` shrunk by ``s`` at the bottom centre of a grey 640x480 frame (as the bench)."""
    return shrunk_to_back(frame, [], s)[0]


@pytest.mark.model
@pytest.mark.shared
def test_small_faces_the_whole_frame_missed_are_found_none_twice(
    analyser: OnnxSceneInference,
) -> None:
    frame = back_of_queue(photo("img5.jpg"), 0.35)  # a group photo, faces now 6 to 14 px
    findings = analyser.analyse_part(frame, 0.0, None, True)
    persons = findings.persons or ()
    whole = [b for b in analyser._faces.detect(frame) if b.score >= 0.5]
    windows = looks(persons, [FaceFinding(b, 0.0) for b in whole], 640, 480, CloserSettings())
    closer = look_closer(analyser._faces, frame, windows, CloserSettings())
    assert closer, "the closer look found none of the small faces"
    assert all(max((iou(c, w) for w in whole), default=0.0) <= 0.3 for c in closer)
    faces = [f.box for f in findings.faces]
    assert len(faces) > len(whole)
    for i, a in enumerate(faces):
        assert all(iou(a, b) <= 0.3 for b in faces[i + 1 :])


@pytest.mark.model
@pytest.mark.shared
def test_a_scene_whose_faces_were_found_costs_no_look(analyser: OnnxSceneInference) -> None:
    before = analyser.closer
    frame = desk(mask_faces("without_mask", 2, 1))
    for at in (0.0, 10.0):
        assert len(analyser.analyse(frame, at).faces) == 2
    assert analyser.closer == before
    analyser.analyse(back_of_queue(photo("img5.jpg"), 0.35), 20.0)
    assert analyser.closer == before + 1


def queue_at_the_back(vision: VisionConfig, name: str, s: float) -> list[int]:
    """Faces in every findings the detection gate gives on 5 s (30 frames/s) of a group photo
    shrunk by ``s`` to the back of the frame, the group shuffling 2 px now and then."""
    inference = load_scene_inference(vision)
    gate = DetectionGate(inference, gate_settings(vision))
    group = cv2.resize(photo(name), (round(640 * s), round(480 * s)), interpolation=cv2.INTER_AREA)
    counts = []
    for i in range(150):
        frame = np.full((480, 640, 3), 114, np.uint8)
        x = (640 - group.shape[1]) // 2 + (i // 10) % 3 * 2
        frame[480 - group.shape[0] :, x : x + group.shape[1]] = group
        findings = gate.process(frame, i / 30)
        if findings is not None:
            counts.append(len(findings.faces))
    return counts


@pytest.mark.model
@pytest.mark.shared
def test_faces_at_the_back_stay_found_between_person_detections() -> None:
    vision = VisionConfig(models_dir=REPO / "models")
    before = queue_at_the_back(vision.model_copy(update={"closer_looks": 0}), "20.jpg", 0.25)
    after = queue_at_the_back(vision, "20.jpg", 0.25)  # 10 people, faces 5 to 9 px
    assert len(after) >= 10
    assert max(before) <= 5
    assert min(after) >= 7  # found, and not lost on the analyses with carried person boxes
