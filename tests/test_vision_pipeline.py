"""The whole vision path on real media: video file -> grabber -> worker (real ONNX models) ->
compliance/occupancy analysers -> events; and ``triage-agent run`` publishing them over MQTT (the
worker alone: tests/test_vision_worker.py).

Test videos are written at test time from ../shared face images with ``cv2.VideoWriter``.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from agent import vision
from agent.config import AgentConfig
from agent.flow.clock import agent_now
from agent.flow.events import AlertEvent, Event, MaskEvent, OccupancyEvent
from agent.vision.capture.grabber import CameraReader
from tests.broker import Broker, Collector
from tests.conftest import REPO, AgentProcess, base_config, validate_message, write_config
from tests.test_vision_worker import Raising
from tests.vision_media import desk, mask_faces, scene_inference, write_video

FPS = 10


def desk_video(path: Path) -> Path:
    """Empty desk, two masked people, empty, two unmasked people, empty (23 s at 10 fps)."""
    empty = desk([])
    return write_video(
        path,
        [
            (empty, 2 * FPS),
            (desk(mask_faces("with_mask", 2, 1)), 5 * FPS),
            (empty, 4 * FPS),
            (desk(mask_faces("without_mask", 2, 1)), 8 * FPS),
            (empty, 4 * FPS),
        ],
        fps=FPS,
    )


def config(video: Path, **vision_fields: object) -> AgentConfig:
    return AgentConfig.model_validate(
        {
            "thermometer": {"enabled": False},
            "camera": {"source": str(video), "loop": False, "max_fps": 5, "reconnect_min_s": 0.5},
            "vision": {
                "models_dir": str(REPO / "models"),
                "unmasked_alert_after_s": 3,
                "compliance_window_s": 60,
                **vision_fields,
            },
        }
    )


def test_build_is_empty_when_camera_disabled() -> None:
    cfg = AgentConfig.model_validate({"camera": {"enabled": False}})
    assert vision.build(cfg.camera, cfg.vision) == ([], [])


def test_build_rejects_an_unusable_source_as_config_error() -> None:
    from agent.config import ConfigError

    cfg = AgentConfig.model_validate({"camera": {"source": "ftp://cam/x"}})
    with pytest.raises(ConfigError, match="unsupported URL scheme"):
        vision.build(cfg.camera, cfg.vision, inference=Raising())


def drive(cfg: AgentConfig, video: Path, seconds_after_end: float) -> list[Event]:
    """Run vision.build()'s stages like the main loop does until the video ended, then a tail.

    Ticks carry agent time, as in the service (frames are stamped with it): the wall clock drifts
    from it in a long test run (NTP slews it), and a wall-clock tick a second ahead of the frames
    would expire every face the moment it was seen."""
    sources, analysers = vision.build(cfg.camera, cfg.vision, inference=scene_inference(cfg.vision))
    grabber = sources[0]
    assert isinstance(grabber, CameraReader)
    obs: queue.Queue[object] = queue.Queue(maxsize=256)
    for s in sources:
        s.start(obs.put)
    events: list[Event] = []
    deleted = False
    end: float | None = None
    next_tick = agent_now() + 1
    try:
        while end is None or agent_now() < end:
            try:
                o = obs.get(timeout=0.2)
                for a in analysers:
                    events += a.feed(o)
            except queue.Empty:
                pass
            now = agent_now()
            if now >= next_tick:
                next_tick = now + 1
                for a in analysers:
                    events += a.tick(now)
            if not deleted and grabber.frames > 0:
                video.unlink()  # the open file plays to its end; no reopen afterwards
                deleted = True
            if end is None and deleted and grabber.heartbeat.snapshot().state == "disconnected":
                end = agent_now() + seconds_after_end
    finally:
        for s in sources:
            s.stop()
    return events


def by_type(events: Sequence[Event], t: type) -> list[Event]:
    return [e for e in events if isinstance(e, t)]


@pytest.mark.shared
@pytest.mark.model
@pytest.mark.slow
def test_video_file_to_debounced_events_through_real_models(tmp_path: Path) -> None:
    video = desk_video(tmp_path / "desk.avi")
    events = drive(config(video), video, seconds_after_end=6)
    masks = [e for e in events if isinstance(e, MaskEvent) and e.window_s is None]
    states = [e.state for e in masks]
    assert states[:3] == ["masked", "no_face", "unmasked"], states
    assert states[-1] == "no_face"
    assert len(masks) <= 6  # never one per frame: ~110 frames were analysed
    masked = masks[0]
    assert (masked.faces, masked.masked, masked.unmasked) == (2, 2, 0)
    unmasked = masks[2]
    assert (unmasked.unmasked, unmasked.masked) == (2, 0)
    alerts = [e for e in events if isinstance(e, AlertEvent)]
    assert [(a.alert, a.state) for a in alerts] == [("unmasked", "raised"), ("unmasked", "cleared")]
    assert alerts[0].alert_id == alerts[1].alert_id
    counts = [e.count for e in events if isinstance(e, OccupancyEvent) and e.window_s is None]
    assert counts[:4] == [2, 0, 2, 0], counts


@pytest.mark.shared
@pytest.mark.model
@pytest.mark.broker
@pytest.mark.slow
def test_run_publishes_valid_mask_occupancy_and_alert_events(
    tmp_path: Path,
    mosquitto: Broker,
    collector_factory: Callable[..., Collector],
    agent_process: Callable[..., AgentProcess],
) -> None:
    scene_inference()  # the shipped models load, or the test fails here with the reason
    video = desk_video(tmp_path / "desk.avi")
    c = collector_factory(mosquitto.port, "triage/v1/#")
    cfg = base_config(
        tmp_path,
        mosquitto.port,
        camera={"enabled": True, "source": str(video), "loop": True, "max_fps": 5},
        vision={
            "models_dir": str(REPO / "models"),
            "unmasked_alert_after_s": 3,
            "compliance_window_s": 5,
        },
    )
    agent = agent_process(write_config(tmp_path / "agent.toml", cfg))

    def seen(ms: list[object]) -> bool:
        kinds = {m.topic.rsplit("/", 1)[-1] for m in c.messages}
        unmasked = any(
            m.topic.endswith("/alert") and m.json().get("alert") == "unmasked" for m in c.messages
        )
        return {"mask", "occupancy"} <= kinds and unmasked  # not any alert: camera ones too

    c.wait_for(seen, timeout=60)
    assert agent.stop() == 0, agent.output()
    docs = [validate_message(m) for m in c.messages]
    masks = [d for d in docs if d["kind"] == "mask"]
    assert {d["state"] for d in masks} >= {"masked", "unmasked"}
    assert any(d.get("window_s") for d in masks)
    occ = [d for d in docs if d["kind"] == "occupancy"]
    assert any(d["count"] == 2 for d in occ)
    alerts = [d for d in docs if d["kind"] == "alert"]
    assert any(d["alert"] == "unmasked" and d["state"] == "raised" for d in alerts)
    health = [d for d in docs if d["kind"] == "health"]
    assert health
    assert "camera" in health[-1]["sources"]
    assert "vision" in health[-1]["sources"]
