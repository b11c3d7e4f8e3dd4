"""The detection gate with the real product models on frames of an empty desk and a person stepping in."""

from __future__ import annotations

import numpy as np
import pytest

from agent.vision import gate_settings
from agent.vision.capture.frames import fit
from agent.vision.config import VisionConfig
from agent.vision.findings import Box, FaceFinding, Frame, SceneFindings, SceneInference
from agent.vision.inference.gate import (
    FAST_EVERY,
    DetectionGate,
    GateSettings,
    PartialSceneInference,
)
from agent.vision.inference.motion import Region
from agent.vision.inference.scene import load_scene_inference
from tests.conftest import REPO
from tests.vision_media import mask_faces

pytestmark = [pytest.mark.model, pytest.mark.shared]
FPS = 30.0


def empty_desk(rng: np.random.Generator) -> Frame:
    noise = rng.normal(0.0, 2.0, (480, 640, 3))
    return np.clip(190 + noise, 0, 255).astype(np.uint8)


def person_at_desk(rng: np.random.Generator, face: Frame) -> Frame:
    """The empty desk with ``face`` (fitted to 180 px high) in its left third."""
    frame = empty_desk(rng)
    small = fit(face, 200, 180)
    h, w = small.shape[:2]
    frame[150 : 150 + h, 40 : 40 + w] = small
    return frame


class WholeFrameOnly:
    """The product analyser seen through the plain SceneInference interface only."""

    def __init__(self, inner: SceneInference) -> None:
        self._inner = inner

    def analyse(self, frame: Frame, at: float) -> SceneFindings:
        return self._inner.analyse(frame, at)


def run(gate: DetectionGate, frames: list[Frame], start: int = 0) -> list[SceneFindings | None]:
    return [gate.process(f, (start + i) / FPS) for i, f in enumerate(frames)]


def test_empty_desk_costs_only_the_periodic_check_and_a_person_is_found_at_once() -> None:
    rng = np.random.default_rng(5)
    analyser = load_scene_inference(VisionConfig(models_dir=REPO / "models"))
    assert isinstance(analyser, PartialSceneInference)
    gate = DetectionGate(
        analyser, GateSettings(detect_fps=4.0, full_every_s=2.0, idle_full_every_s=10.0)
    )
    quiet = run(gate, [empty_desk(rng) for _ in range(303)])  # 10.1 s, nobody there
    emitted = [f for f in quiet if f is not None]
    assert gate.counts.full == 2  # idle after 1 s: whole-frame checks at 0 and 10 s only
    assert gate.counts.region == 0
    assert len(emitted) == 2
    assert all(not f.faces for f in emitted)
    assert gate.counts.carried == 301
    assert gate.idle  # the worker now asks for every IDLE_STRIDE-th frame only

    face = mask_faces("without_mask", 1)[0]
    # three frames after the idle check at 10 s, before the next detection is due (0.25 s)
    entering = run(gate, [person_at_desk(rng, face) for _ in range(30)], start=303)
    first = next(i for i, f in enumerate(entering) if f is not None and f.faces)
    assert first <= FAST_EVERY  # motion where nobody was known: looked at early
    assert gate.counts.fast >= 1
    assert gate.counts.region >= 1  # the face was looked for in the moving area only
    assert not gate.idle
    found = entering[first]
    assert found is not None
    assert len(found.faces) == 1
    assert not found.faces[0].masked
    box = found.faces[0].box
    assert 0 < box.x1 < box.x2 < 640 // 3 + 40  # in frame pixels, in the left third

    # standing still: after a few seconds the person is background to the motion check...
    run(gate, [person_at_desk(rng, face) for _ in range(120)], start=333)
    detections = gate.counts.full + gate.counts.region
    still = run(gate, [person_at_desk(rng, face) for _ in range(45)], start=453)
    carried = [f for f in still if f is not None and f.inference_ms == 0.0]
    assert carried
    assert all(len(f.faces) == 1 for f in carried)
    assert gate.counts.full + gate.counts.region - detections <= 1  # at almost no cost


def test_an_idle_scene_is_checked_whole_every_idle_full_every_s() -> None:
    rng = np.random.default_rng(8)
    analyser = load_scene_inference(VisionConfig(models_dir=REPO / "models"))
    gate = DetectionGate(
        analyser, GateSettings(detect_fps=4.0, full_every_s=2.0, idle_full_every_s=10.0)
    )
    out = run(gate, [empty_desk(rng) for _ in range(int(25 * FPS))])  # 25 s, nobody there
    checked = [round(f.at, 2) for f in out if f is not None and f.inference_ms > 0.0]
    assert checked == [0.0, 10.0, 20.0]
    assert gate.counts.full == 3


def test_without_motion_the_gate_is_a_frame_stride_for_any_analyser() -> None:
    rng = np.random.default_rng(6)
    analyser = WholeFrameOnly(load_scene_inference(VisionConfig(models_dir=REPO / "models")))
    assert not isinstance(analyser, PartialSceneInference)
    gate = DetectionGate(analyser, GateSettings(motion=False, detect_fps=10.0))
    face = mask_faces("with_mask", 1)[0]
    out = run(gate, [person_at_desk(rng, face) for _ in range(9)])
    fresh = [i for i, f in enumerate(out) if f is not None and f.inference_ms > 0.0]
    assert fresh == [0, 3, 6]
    assert gate.counts.region == 0
    assert gate.counts.full == 3


def test_gate_settings_follow_the_vision_section() -> None:
    vision = VisionConfig(
        motion_gating=False,
        detect_fps=5.0,
        full_every_s=3.0,
        idle_full_every_s=30.0,
        person_every=4,
        region_crops=False,
    )
    s = gate_settings(vision)
    assert (
        s.motion,
        s.detect_fps,
        s.full_every_s,
        s.idle_full_every_s,
        s.person_every,
        s.regions,
    ) == (False, 5.0, 3.0, 30.0, 4, False)


class Scripted:
    """A :class:`PartialSceneInference` whose faces and bodies are set by the test; it notes every
    frame the person detector ran on (the gate's person stride is logic, not pixels)."""

    def __init__(self) -> None:
        self.faces: tuple[FaceFinding, ...] = ()
        self.bodies: tuple[Box, ...] = ()
        self.person_runs: list[float] = []

    def analyse(self, frame: Frame, at: float) -> SceneFindings:
        return self.analyse_part(frame, at, None, True)

    def analyse_part(
        self, frame: Frame, at: float, regions: tuple[Region, ...] | None, persons: bool
    ) -> SceneFindings:
        if persons:
            self.person_runs.append(at)
        return SceneFindings(at, self.faces, self.bodies if persons else None, 1.0, 640, 480)

    def persons_in(self, frame: Frame) -> tuple[Box, ...] | None:
        self.person_runs.append(-1.0)  # marks a run the gate asked for outside the stride
        return self.bodies


def someone(x: float) -> tuple[FaceFinding, Box]:
    """A face and the body box it sits in, ``x`` pixels from the left."""
    return FaceFinding(Box(x + 20, 100, x + 60, 150, 0.9), 0.9), Box(x, 90, x + 80, 400, 0.8)


def test_person_stride_skips_bodies_but_never_carries_a_wrong_count() -> None:
    analyser = Scripted()
    assert isinstance(analyser, PartialSceneInference)
    gate = DetectionGate(analyser, GateSettings(motion=False, detect_fps=10.0, person_every=2))
    frame = np.zeros((480, 640, 3), dtype=np.uint8)
    face, body = someone(100)
    analyser.faces, analyser.bodies = (face,), (body,)
    run(gate, [frame] * 30)  # one person standing, 1 s: 10 detections
    assert gate.counts.full == 10
    assert gate.counts.persons == 6  # the first detection, then every other one
    assert gate.counts.confirmed == 0
    # a second person comes in on a detection the stride skips: their body is looked for at once
    second_face, second_body = someone(400)
    analyser.faces, analyser.bodies = (face, second_face), (body, second_body)
    out = run(gate, [frame] * 3, start=30)
    assert out[0] is not None
    assert out[0].persons == (body, second_body)
    assert analyser.person_runs[-1] == -1.0
    assert gate.counts.confirmed == 1
    # then the stride again: bodies carried while the count holds
    run(gate, [frame] * 30, start=33)
    assert gate.counts.confirmed == 1
    assert gate.counts.persons == 6 + 1 + 5
