"""People: faces attached to person boxes, estimated bodies for lone faces, and the shipped
person detector (NanoDet-m 320), which must be present: these tests fail, never skip, without it."""

from __future__ import annotations

import numpy as np
import pytest

from agent.vision.config import VisionConfig
from agent.vision.findings import Box, FaceFinding, SceneFindings
from agent.vision.inference import families
from agent.vision.manifest import load_manifest, resolve
from agent.vision.people import attach, people_in
from tests.conftest import REPO
from tests.vision_media import scene

W, H = 640, 480


def face(x1: float, y1: float, size: float, prob: float = 0.1, wrong: float = 0.0) -> FaceFinding:
    return FaceFinding(Box(x1, y1, x1 + size, y1 + size, 0.9), prob, wrong)


def test_face_in_the_upper_part_belongs_to_its_person() -> None:
    left, right = Box(50, 100, 150, 400, 0.8), Box(300, 80, 420, 470, 0.8)
    faces = [face(325, 90, 40, prob=0.9), face(80, 110, 30)]
    people = attach([left, right], faces, W, H)
    assert [p.box for p in people] == [left, right]
    assert people[0].face is faces[1]
    assert people[0].mask == "unmasked"
    assert people[1].face is faces[0]
    assert people[1].mask == "masked"
    assert people[0].feet == (100 / W, 400 / H)
    worn = attach([left], [face(80, 110, 30, prob=0.1, wrong=0.7)], W, H)
    assert worn[0].mask == "worn_wrong"


def test_a_person_facing_away_has_unknown_mask_and_low_faces_do_not_attach() -> None:
    body = Box(100, 50, 200, 450, 0.8)
    low = face(130, 330, 30)  # a face at the person's knees is someone else's (a child in front)
    people = attach([body], [low], W, H)
    assert people[0].face is None
    assert people[0].mask == "unknown"
    assert not people[1].detected
    assert people[1].face is low
    assert len(people) == 2


def test_one_face_per_person_and_lone_faces_get_an_estimated_body() -> None:
    body = Box(100, 50, 200, 450, 0.8)
    a, b = face(135, 55, 30), face(140, 60, 28)
    people = attach([body], [a, b], W, H)
    assert len(people) == 2
    lone = people[1]
    assert not lone.detected
    assert lone.face is not None
    assert lone.box.y2 <= H
    assert lone.box.x1 >= 0
    assert lone.feet[1] <= 1.0


def test_a_close_up_face_belongs_to_its_head_and_shoulders_box() -> None:
    box = Box(200, 100, 440, 480, 0.7)
    close = face(240, 200, 160)  # centre at 74 % of the height, but it fills the box
    people = attach([box], [close], W, H)
    assert len(people) == 1
    assert people[0].face is close


def test_faces_only_when_no_person_model() -> None:
    findings = SceneFindings(0.0, (face(100, 100, 40), face(300, 100, 40)), None, 1.0, W, H)
    people = people_in(findings)
    assert len(people) == 2
    assert not any(p.detected for p in people)


def test_the_person_detector_ships_and_is_on_by_default() -> None:
    name = VisionConfig().person_model
    assert name == "person-detector"
    manifest = load_manifest(REPO / "models" / "manifest.json")
    entry = next(m for m in manifest.models if m.name == name)
    assert entry.family == "nanodet"
    assert entry.task == "person"
    assert "Apache-2.0" in entry.licence
    assert (REPO / "models" / "LICENSES" / "LICENSE-nanodet.txt").is_file()
    assert (REPO / "models" / "cards" / "person-detector.md").is_file()
    spec, path = resolve(REPO / "models", name)  # checks the sha256; fails when the file is missing
    detector = families.make_person_detector(spec, path)
    assert detector.detect(np.full((H, W, 3), 128, np.uint8)) == []


@pytest.mark.shared
@pytest.mark.model
def test_the_shipped_person_detector_finds_people_on_a_real_photo() -> None:
    spec, path = resolve(REPO / "models", "person-detector")
    detector = families.make_person_detector(spec, path)
    boxes = detector.detect(scene("hpc203_zidane.jpg"))
    assert len(boxes) >= 2
    assert all(b.score >= 0.4 for b in boxes)


def test_a_face_box_larger_than_the_body_box_still_belongs_to_it() -> None:
    body = Box(328, 51, 631, 333, 0.5)
    big = FaceFinding(Box(292, 10, 640, 449, 0.9), 0.9)  # wider than the box: a close face
    people = attach([body], [big], W, H)
    assert len(people) == 1
    assert people[0].face is big
