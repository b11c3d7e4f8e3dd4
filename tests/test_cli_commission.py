"""``triage-agent commission`` (agent/cli/commission.py) on a real video file: a reference recorded
while people walk through (and diag's reference check passing on it), a covered camera refused.

Videos are written at test time with ``cv2.VideoWriter`` from ../shared scene photos; the integrity
checks the reference serves, end to end: tests/test_vision_integrity_run.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.cli.diag.camera_reference import check_camera_reference
from agent.cli.main import main
from agent.vision.inference.integrity_measures import MIN_LANDMARKS
from agent.vision.inference.integrity_reference import REFERENCE_NAME, load_reference
from tests import integrity_media as media
from tests.test_vision_integrity_run import BACKGROUND, camera_config, frames_video, loaded


@pytest.mark.shared
def test_commission_records_a_reference_with_people_walking_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = frames_video(tmp_path / "view.avi", list(media.busy(BACKGROUND, 60, seed=3, people=2)))
    config = camera_config(tmp_path, video)
    assert check_camera_reference(loaded(config), None).verdict == "WARN"
    assert main(["commission", "--config", str(config), "--frames", "12", "--seconds", "5"]) == 0
    out = capsys.readouterr().out
    path = tmp_path / "state" / REFERENCE_NAME
    assert f"camera reference recorded in {path}" in out
    assert "no image" in out
    ref = load_reference(path)
    assert ref.landmarks >= MIN_LANDMARKS
    assert ref.frames == 12
    check = check_camera_reference(loaded(config), None)
    assert check.verdict == "PASS", check
    assert f"{ref.landmarks} landmarks" in check.detail
    live = {"integrity": {"commissioned": True, "raised": ["camera_covered"]}}
    assert check_camera_reference(loaded(config), live).verdict == "FAIL"


@pytest.mark.shared
def test_commission_refuses_a_covered_camera(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    view = media.view(BACKGROUND)
    video = frames_video(tmp_path / "hand.avi", [media.hand(view, 0.85, s) for s in range(30)])
    config = camera_config(tmp_path, video)
    assert main(["commission", "--config", str(config)]) == 1
    assert "looks covered" in capsys.readouterr().out
    assert not (tmp_path / "state" / REFERENCE_NAME).exists()
