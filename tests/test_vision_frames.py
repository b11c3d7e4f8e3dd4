"""Frame sources: real cv2 code paths on real video files, folders and URLs (the grabber that reads
them: tests/test_vision_capture_grabber.py; the frame slot: tests/test_vision_slot.py).

Videos are written at test time with ``cv2.VideoWriter`` (from ../shared photos where the content
matters, from frames drawn in the test where only the file mechanics matter).
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from agent.config import ConfigError
from agent.vision.capture.frames import (
    SIMULATED_HOLD_S,
    CaptureSource,
    FolderSource,
    SimulatedSource,
    SourceUnavailableError,
    fit,
    open_source,
    parse_source,
)
from agent.vision.config import CameraConfig
from agent.vision.findings import Frame
from tests.conftest import shared_path
from tests.vision_media import scene, write_video


def drawn(i: int, w: int = 320, h: int = 240) -> Frame:
    """A frame whose mean brightness encodes ``i`` (survives MJPG compression)."""
    return np.full((h, w, 3), 20 + 20 * (i % 10), np.uint8)


def camera(source: str | Path, **kw: object) -> CameraConfig:
    fields: dict[str, object] = {
        "source": str(source),
        "reconnect_min_s": 0.1,
        "reconnect_max_s": 0.4,
        **kw,
    }
    return CameraConfig.model_validate(fields)


# --- parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("simulated", "simulated"),
        ("0", "device"),
        ("/dev/video2", "device"),
        ("rtsp://cam.local:554/stream1", "stream"),
        ("http://10.0.0.5/mjpg", "stream"),
        ("/srv/clips/desk.mp4", "file"),
    ],
)
def test_parse_source_kinds(text: str, kind: str) -> None:
    assert parse_source(text).kind == kind


def test_parse_source_folder(tmp_path: Path) -> None:
    assert parse_source(str(tmp_path)).kind == "folder"


def test_unsupported_scheme_is_a_config_error_without_credentials() -> None:
    with pytest.raises(ConfigError, match="unsupported URL scheme 'ftp'") as info:
        parse_source("ftp://admin:s3cret@cam/x")
    assert "s3cret" not in str(info.value)


def test_a_stream_label_has_no_credentials() -> None:
    """(The redaction itself: tests/test_flow_redact.py.)"""
    spec = parse_source("rtsp://u:pw@cam:8554/live")
    assert "pw" not in spec.label


def test_fit_scales_down_keeping_aspect_and_never_up() -> None:
    big = np.zeros((480, 1280, 3), np.uint8)
    assert fit(big, 640, 480).shape == (240, 640, 3)
    small = np.zeros((100, 100, 3), np.uint8)
    assert fit(small, 640, 480) is small


# --- video files and folders -------------------------------------------------------------------


@pytest.mark.shared
def test_video_file_frames_are_read_fitted_and_end_without_loop(tmp_path: Path) -> None:
    photo = scene("hpc203_zidane.jpg")
    video = write_video(tmp_path / "desk.avi", [(photo, 7)], fps=10, size=(1280, 720))
    src = CaptureSource(parse_source(str(video)), camera(video, width=640, height=480, loop=False))
    src.open()
    assert src.native_fps == pytest.approx(10.0)
    frames = []
    while (f := src.read()) is not None:
        frames.append(f)
    src.close()
    assert len(frames) == 7
    assert frames[0].shape == (360, 640, 3)
    assert frames[0].dtype == np.uint8
    expected = cv2.resize(photo, (640, 360), interpolation=cv2.INTER_AREA)
    assert float(np.abs(frames[0].astype(int) - expected.astype(int)).mean()) < 12


def test_video_file_loops_when_configured(tmp_path: Path) -> None:
    video = write_video(tmp_path / "loop.avi", [(drawn(i), 1) for i in range(3)], size=(320, 240))
    src = CaptureSource(parse_source(str(video)), camera(video, loop=True))
    src.open()
    means = []
    for _ in range(7):
        f = src.read()
        assert f is not None
        means.append(round(float(f.mean()) / 20))
    src.close()
    assert means == [1, 2, 3, 1, 2, 3, 1]


def test_missing_video_file_is_unavailable_with_reason(tmp_path: Path) -> None:
    src = open_source(camera(tmp_path / "nope.mp4"))
    with pytest.raises(SourceUnavailableError, match=r"nope\.mp4 not found"):
        src.open()


def test_corrupt_video_file_is_unavailable(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"this is not a video" * 100)
    with pytest.raises(SourceUnavailableError, match="cannot open video file"):
        open_source(camera(bad)).open()


def test_folder_is_sorted_skips_unreadable_and_loops(tmp_path: Path) -> None:
    for i in (2, 0, 1):
        cv2.imwrite(str(tmp_path / f"img{i}.png"), drawn(i + 1))
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "notes.txt").write_text("ignored")
    src = open_source(camera(tmp_path, loop=True))
    assert isinstance(src, FolderSource)
    src.open()
    means = [round(float(f.mean()) / 20) for f in (src.read() for _ in range(5)) if f is not None]
    assert means == [2, 3, 4, 2, 3]  # broken.jpg sorts first and is skipped


def test_empty_folder_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailableError, match="holds no"):
        open_source(camera(tmp_path)).open()


def test_folder_without_loop_ends(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), drawn(1))
    src = open_source(camera(tmp_path, loop=False))
    src.open()
    assert src.read() is not None
    assert src.read() is None


# --- simulated ---------------------------------------------------------------------------------


@pytest.mark.shared
def test_simulated_cycles_real_scenes_and_composed_mask_frames() -> None:
    scenes = shared_path("data", "scenes")
    cam = camera("simulated", width=640, height=480, simulated_scenes_dir=scenes)
    src = open_source(cam)
    assert isinstance(src, SimulatedSource)
    src.open()
    assert not src.synthetic
    seen = set()
    for _ in range(round(SIMULATED_HOLD_S * cam.max_fps) * 8):  # eight scenes' worth
        f = src.read()
        assert f is not None
        assert f.shape[0] <= 480
        assert f.shape[1] <= 640
        seen.add(hash(f.tobytes()))
    assert len(seen) >= 8


def test_simulated_without_photos_renders_synthetic_frames(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    SimulatedSource._warned_synthetic = False
    cam = camera("simulated", simulated_scenes_dir=tmp_path / "absent")
    src = open_source(cam)
    assert isinstance(src, SimulatedSource)
    with caplog.at_level(logging.WARNING):
        src.open()
        src.open()
    assert src.synthetic
    assert sum("synthetic frames" in r.getMessage() for r in caplog.records) == 1
    f = src.read()
    assert f is not None
    assert f.shape == (480, 640, 3)
    assert f.std() > 0
