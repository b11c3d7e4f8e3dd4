"""Camera integrity end to end: diag's reference check, and ``triage-agent run`` on a video whose
middle part is covered, publishing the ``camera_covered`` alert to a real mosquitto and clearing it
when the lens is uncovered (``triage-agent commission``: tests/test_cli_commission.py).

Videos are written at test time with ``cv2.VideoWriter`` from ../shared scene photos.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.cli.diag.camera_reference import check_camera_reference
from agent.cli.main import main
from agent.config import AgentConfig, load_config
from agent.vision.findings import Frame
from agent.vision.inference.integrity_reference import REFERENCE_NAME
from tests import integrity_media as media
from tests.broker import Broker, Collector
from tests.conftest import REPO, AgentProcess, base_config, validate_message, write_config
from tests.vision_media import write_video

FPS = 10
BACKGROUND = "hpc203_bus.jpg"


def frames_video(path: Path, frames: list[Frame]) -> Path:
    return write_video(path, [(f, 1) for f in frames], fps=FPS)


def camera_config(tmp_path: Path, video: Path, port: int = 1883, **integrity: Any) -> Path:
    cfg = base_config(
        tmp_path,
        port,
        camera={"enabled": True, "source": str(video), "loop": True, "max_fps": 5},
        vision={"models_dir": str(REPO / "models"), "integrity": integrity},
    )
    return write_config(tmp_path / "agent.toml", cfg)


def loaded(path: Path) -> AgentConfig:
    return load_config(path)


def test_a_damaged_reference_is_a_diag_warning(tmp_path: Path) -> None:
    config = camera_config(tmp_path, tmp_path / "none.avi")
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / REFERENCE_NAME).write_bytes(b"garbage")
    check = check_camera_reference(loaded(config), None)
    assert check.verdict == "WARN"
    assert "re-run `triage-agent commission`" in check.detail


@pytest.mark.shared
@pytest.mark.model
@pytest.mark.broker
@pytest.mark.slow
def test_run_raises_camera_covered_and_clears_it_when_uncovered(
    tmp_path: Path,
    mosquitto: Broker,
    collector_factory: Callable[..., Collector],
    agent_process: Callable[..., AgentProcess],
) -> None:
    view = frames_video(tmp_path / "view.avi", list(media.busy(BACKGROUND, 60, seed=3, people=2)))
    base = media.view(BACKGROUND)
    tampered = list(media.busy(BACKGROUND, 6 * FPS, seed=4, people=2))  # 6 s fine
    tampered += [media.hand(base, 0.85, s) for s in range(8 * FPS)]  # 8 s covered
    tampered += list(media.busy(BACKGROUND, 8 * FPS, seed=5, people=2))  # 8 s fine again
    video = frames_video(tmp_path / "tampered.avi", tampered)
    integrity = {
        "check_every_s": 0.2,
        "window": 3,
        "covered_after_s": 2.0,
        "clear_after_s": 1.0,
        "moved_after_s": 2.0,
        "moved_window": 10,
    }
    config = camera_config(tmp_path, view, mosquitto.port, **integrity)
    assert main(["commission", "--config", str(config)]) == 0
    config = camera_config(tmp_path, video, mosquitto.port, **integrity)
    c = collector_factory(mosquitto.port, "triage/v1/#")
    agent = agent_process(config)

    def covered(state: str) -> Callable[[list[Any]], bool]:
        def seen(messages: list[Any]) -> bool:
            return any(
                m.topic.endswith("/alert")
                and m.json()["alert"] == "camera_covered"
                and m.json()["state"] == state
                for m in messages
            )

        return seen

    c.wait_for(covered("raised"), timeout=90)
    c.wait_for(covered("cleared"), timeout=60)
    assert agent.stop() == 0, agent.output()
    docs = [validate_message(m) for m in c.messages]
    alerts = [d for d in docs if d["kind"] == "alert" and d["family"] == "setup"]
    first_raise = next(d for d in alerts if d["state"] == "raised")
    assert first_raise["alert"] == "camera_covered", alerts
    assert first_raise["value"] >= 60.0
    clear = next(d for d in alerts if d["state"] == "cleared")
    assert clear["alert_id"] == first_raise["alert_id"]
    assert {d["alert"] for d in alerts} == {"camera_covered"}, "nothing else: not moved, not dark"
    assert "camera not commissioned" not in agent.output()
