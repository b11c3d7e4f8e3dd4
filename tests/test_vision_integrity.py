"""Camera integrity checks (agent.vision.inference.integrity) on real frames made from the scene photos.

Every tampered view must fail exactly its own check, and a busy scene (people walking across the
fixed view, hiding about 45% of it on average) must fail none, with and without a reference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pytest

from agent.vision.findings import Frame, IntegrityFindings
from agent.vision.inference.integrity import IntegrityChecker, IntegrityThresholds
from agent.vision.inference.integrity_reference import (
    Reference,
    build_reference,
)
from tests import integrity_media as media

THRESHOLDS = IntegrityThresholds()
SETTLE = max(THRESHOLDS.window, 1)


def commission(background: str) -> Reference:
    """The reference a technician records: 15 frames while two people walk through."""
    return build_reference(list(media.busy(background, 15, seed=1, people=2)), created=0.0)


def run(checker: IntegrityChecker, frames: Iterable[Frame]) -> list[IntegrityFindings]:
    return [checker.check(f, float(i)) for i, f in enumerate(frames)]


def failed(findings: IntegrityFindings) -> set[str]:
    return {v.check for v in findings.verdicts if v.outcome == "failed"}


def held(frame: Frame, n: int = SETTLE) -> list[Frame]:
    """``n`` captures of the same view, each with its own sensor noise."""
    return [media.noisy(frame, 2.0, seed) for seed in range(n)]


TAMPERS: dict[str, tuple[Callable[[str], list[Frame]], str]] = {
    "black": (lambda bg: [media.black(s) for s in range(SETTLE)], "covered"),
    "hand": (lambda bg: [media.hand(media.view(bg), 0.85, s) for s in range(SETTLE)], "covered"),
    "shifted": (lambda bg: held(media.view(bg, dx=0.05)), "moved"),
    "shifted_down": (lambda bg: held(media.view(bg, dy=-0.04)), "moved"),
    "rotated": (lambda bg: held(media.view(bg, angle=4.0)), "moved"),
    "blurred": (lambda bg: [media.blurred(f, 3.0) for f in held(media.view(bg))], "blurred"),
    "low_gain": (
        lambda bg: [media.low_gain(media.view(bg), 0.12, s) for s in range(SETTLE)],
        "dark",
    ),
}


@pytest.fixture(scope="module", params=media.BACKGROUNDS)
def background(request: pytest.FixtureRequest) -> tuple[str, Reference]:
    name: str = request.param
    return name, commission(name)


@pytest.mark.shared
def test_reference_has_landmarks_and_an_untampered_view_passes(
    background: tuple[str, Reference],
) -> None:
    name, ref = background
    assert ref.can_judge_moves, f"{name}: only {ref.landmarks} landmarks"
    last = run(IntegrityChecker(THRESHOLDS, ref), held(media.view(name)))[-1]
    assert last.commissioned
    assert {v.check: v.outcome for v in last.verdicts} == {
        "covered": "ok",
        "dark": "ok",
        "blurred": "ok",
        "moved": "ok",
    }
    moved = last.verdict("moved")
    assert moved.value is not None
    assert moved.value > 0.8
    assert moved.shift is not None
    assert moved.shift < 0.005


@pytest.mark.shared
@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_each_tamper_fails_exactly_its_own_check(
    background: tuple[str, Reference], tamper: str
) -> None:
    name, ref = background
    make, expected = TAMPERS[tamper]
    checker = IntegrityChecker(THRESHOLDS, ref)
    run(checker, held(media.view(name)))  # the camera was fine until now
    last = run(checker, make(name))[-1]
    assert failed(last) == {expected}, f"{name} {tamper}: {last.verdicts}"


@pytest.mark.shared
def test_moved_reports_how_far_the_view_moved(background: tuple[str, Reference]) -> None:
    name, ref = background
    last = run(IntegrityChecker(THRESHOLDS, ref), held(media.view(name, dx=0.05)))[-1]
    shift = last.verdict("moved").shift
    assert shift is not None
    assert shift == pytest.approx(0.05, abs=0.01)


@pytest.mark.shared
@pytest.mark.slow
def test_a_busy_scene_raises_nothing(background: tuple[str, Reference]) -> None:
    name, ref = background
    with_ref = IntegrityChecker(THRESHOLDS, ref)
    without = IntegrityChecker(THRESHOLDS, None)
    frames = list(media.busy(name, 90, seed=5, people=5))
    for findings in run(with_ref, frames)[SETTLE:]:
        assert failed(findings) == set(), f"{name} at frame {findings.at}: {findings.verdicts}"
    for findings in run(without, frames)[SETTLE:]:
        assert failed(findings) == set(), f"{name} at frame {findings.at}: {findings.verdicts}"


@pytest.mark.shared
def test_a_view_turned_to_another_scene_is_moved_once_the_landmarks_stay_gone() -> None:
    ref = commission("hpc203_bus.jpg")
    checker = IntegrityChecker(THRESHOLDS, ref)
    run(checker, held(media.view("hpc203_bus.jpg")))
    turned = run(checker, held(media.view("26.jpg"), THRESHOLDS.moved_window))
    assert failed(turned[-1]) == {"moved"}
    assert turned[-1].verdict("moved").value == pytest.approx(0.0, abs=0.1)
    back = run(checker, held(media.view("hpc203_bus.jpg"), 2))
    assert failed(back[-1]) == set(), "recovered as soon as the landmarks are back"


@pytest.mark.shared
@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        (lambda: [media.black(s) for s in range(SETTLE)], {"covered"}),
        (lambda: [media.hand(media.view("13.jpg"), 0.97, s) for s in range(SETTLE)], {"covered"}),
        (lambda: [media.hand(media.view("13.jpg"), 0.7, s) for s in range(SETTLE)], set()),
        (
            lambda: [media.low_gain(media.view("img8.jpg"), 0.12, s) for s in range(SETTLE)],
            {"dark"},
        ),
        (lambda: [media.blurred(f, 6.0) for f in held(media.view("26.jpg"))], {"blurred"}),
        (lambda: held(media.view("hpc203_street.jpg", dx=0.05)), set()),
    ],
    ids=["black", "hand_97", "hand_70_unjudged", "low_gain", "blurred", "shifted_unjudged"],
)
def test_without_a_reference_three_checks_use_absolute_thresholds(
    frames: object, expected: set[str]
) -> None:
    assert callable(frames)
    last = run(IntegrityChecker(THRESHOLDS, None), frames())[-1]
    assert failed(last) == expected
    moved = last.verdict("moved")
    assert not last.commissioned
    assert moved.outcome == "unknown"
    assert moved.why_unknown == "not commissioned"
    assert {v.basis for v in last.verdicts} == {"absolute"}


@pytest.mark.shared
def test_covered_hides_the_checks_it_makes_unjudgeable() -> None:
    ref = commission("img8.jpg")
    last = run(IntegrityChecker(THRESHOLDS, ref), [media.black(s) for s in range(SETTLE)])[-1]
    outcomes = {v.check: (v.outcome, v.why_unknown) for v in last.verdicts}
    assert outcomes == {
        "covered": ("failed", None),
        "dark": ("unknown", "covered"),
        "blurred": ("unknown", "covered"),
        "moved": ("unknown", "covered"),
    }


@pytest.mark.shared
def test_a_reference_from_another_resolution_cannot_judge_moves() -> None:
    ref = commission("17.jpg")
    wide = [np.ascontiguousarray(f[60:420]) for f in held(media.view("17.jpg"))]  # 16:9
    last = run(IntegrityChecker(THRESHOLDS, ref), wide)[-1]
    assert not last.commissioned
    moved = last.verdict("moved")
    assert moved.outcome == "unknown"
    assert moved.why_unknown == "reference made at another resolution"
    assert failed(last) == set()


def test_a_uniform_frame_is_covered_without_any_data() -> None:
    grey = np.full((480, 640, 3), 128, np.uint8)
    last = run(IntegrityChecker(THRESHOLDS, None), [grey] * SETTLE)[-1]
    assert failed(last) == {"covered"}
    assert last.verdict("covered").value == 1.0
