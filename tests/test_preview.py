"""Tests of `triage-agent preview`: local-only output, real frames through the real models."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from agent.cli.preview import PreviewError, check_output, make_preview
from agent.config import parse_config
from tests.conftest import REPO, base_config


def test_refuses_urls_and_non_jpg(tmp_path: Path) -> None:
    with pytest.raises(PreviewError, match="local file only"):
        check_output("sftp://host/x.jpg")
    with pytest.raises(PreviewError, match=r"end in \.jpg"):
        check_output(str(tmp_path / "x.png"))
    with pytest.raises(PreviewError, match="does not exist"):
        check_output(str(tmp_path / "missing" / "x.jpg"))
    assert check_output(str(tmp_path / "x.jpg")) == tmp_path / "x.jpg"


@pytest.mark.model
def test_preview_writes_a_local_jpeg(tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "a.png"), np.full((240, 320, 3), 90, np.uint8))
    raw = base_config(
        tmp_path,
        1,
        camera={"enabled": True, "source": str(frames)},
        vision={"models_dir": str(REPO / "models")},
    )
    cfg = parse_config(raw, environ={})
    out = tmp_path / "aim.jpg"
    summary = make_preview(cfg, out)  # the shipped models must load: a failure is a defect
    assert "faces blurred" in summary
    img = cv2.imread(str(out))
    assert img is not None
    assert img.shape == (240, 320, 3)
    assert (out.stat().st_mode & 0o777) == 0o600


@pytest.mark.model
@pytest.mark.shared
def test_preview_draws_zones_and_each_persons_role(tmp_path: Path) -> None:
    from tests.vision_media import fit_to, scene

    frames = tmp_path / "frames"
    frames.mkdir()
    photo = fit_to(scene("19.jpg"), 640, 480)  # five people standing in a row
    cv2.imwrite(str(frames / "a.png"), photo)
    raw = base_config(
        tmp_path,
        1,
        camera={"enabled": True, "source": str(frames)},
        vision={"models_dir": str(REPO / "models")},
    )
    raw["zones"] = [
        {"name": "desk", "role": "staff", "polygon": [[0.5, 0], [1, 0], [1, 1], [0.5, 1]]},
        {"name": "queue", "role": "queue", "polygon": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]},
    ]
    cfg = parse_config(raw, environ={})
    out = tmp_path / "aim.jpg"
    summary = make_preview(cfg, out)
    staff, patients = (int(n) for n in re.findall(r"(\d+) staff, (\d+) patient", summary)[0])
    assert staff >= 2
    assert patients >= 2
    img = cv2.imread(str(out))
    assert img is not None
    # the staff zone's outline is drawn in its colour along the right edge of the picture
    edge = img[200:280, 636:640].reshape(-1, 3).astype(int)
    assert (np.abs(edge - (200, 80, 200)).sum(axis=1) < 60).any()
    original = cv2.imread(str(frames / "a.png"))
    assert original is not None
    assert not np.array_equal(img, original)
