"""End to end: the thermometer unplugged while the clinic is open -> ``thermometer_lost`` on a real
mosquitto; plugged back in -> cleared. The device is the firmware emulator on a pty behind a symlink,
as udev's /dev/triage-thermometer is; unplugging closes the pty, replugging repoints the link. The
camera likewise (``camera_lost``): its video file (written with cv2.VideoWriter) vanishes and
comes back.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.thermometer.simulated_port import emulator
from firmware_bridge.emulator import PtyEmulator
from firmware_bridge.trace import generate
from tests import integrity_media as media
from tests.broker import Broker, Collector
from tests.conftest import REPO, AgentProcess, base_config, validate_message, write_config
from tests.vision_media import write_video


def plug(link: Path) -> PtyEmulator:
    emu = emulator("bridge", generate("idle", seed=3), loop=True)
    path = emu.start()
    tmp = link.with_name(link.name + ".new")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(path)
    tmp.replace(link)
    return emu


def lost(state: str) -> Callable[[list[Any]], bool]:
    def seen(messages: list[Any]) -> bool:
        return any(
            m.topic.endswith("/alert")
            and m.json()["alert"] == "thermometer_lost"
            and m.json()["state"] == state
            for m in messages
        )

    return seen


def delivering(messages: list[Any]) -> bool:
    """A health message says the thermometer is ok."""
    return any(
        m.topic.endswith("/health")
        and m.json()["sources"].get("thermometer", {}).get("state") == "ok"
        for m in messages
    )


@pytest.mark.slow
@pytest.mark.broker
def test_thermometer_unplugged_and_plugged_back(
    tmp_path: Path,
    mosquitto: Broker,
    collector_factory: Callable[..., Collector],
    agent_process: Callable[..., AgentProcess],
) -> None:
    link = tmp_path / "triage-thermometer"
    emu = plug(link)
    raw = base_config(
        tmp_path,
        mosquitto.port,
        thermometer={
            "enabled": True,
            "port": str(link),
            "stale_after_s": 1.0,
            "lost_alert_after_s": 2.0,
            "reconnect_min_s": 0.2,
            "reconnect_max_s": 0.5,
        },
    )
    c = collector_factory(mosquitto.port, "triage/v1/#")
    agent = agent_process(write_config(tmp_path / "agent.toml", raw))
    try:
        c.wait_for(delivering, timeout=30)
        assert not lost("raised")(c.messages), "delivering: not lost"
        emu.stop()  # unplugged
        c.wait_for(lost("raised"), timeout=30)
        emu = plug(link)  # plugged back in
        c.wait_for(lost("cleared"), timeout=30)
    finally:
        emu.stop()
        rc = agent.stop()
    assert rc == 0, agent.output()
    alerts = [validate_message(m) for m in c.messages if m.topic.endswith("/alert")]
    mine = [d for d in alerts if d["alert"] == "thermometer_lost"]
    assert [d["state"] for d in mine] == ["raised", "cleared"]
    assert mine[0]["alert_id"] == mine[1]["alert_id"]
    assert mine[0]["family"] == "setup"
    assert mine[0]["value"] >= 1.0


@pytest.mark.shared
@pytest.mark.model
@pytest.mark.slow
@pytest.mark.broker
def test_camera_gone_and_back(
    tmp_path: Path,
    mosquitto: Broker,
    collector_factory: Callable[..., Collector],
    agent_process: Callable[..., AgentProcess],
) -> None:
    """The camera's video file vanishes (a camera unplugged) and comes back."""
    frames = list(media.busy("hpc203_bus.jpg", 40, seed=2, people=1))
    video = write_video(tmp_path / "cam.avi", [(f, 1) for f in frames], fps=10)
    kept = video.read_bytes()
    raw = base_config(
        tmp_path,
        mosquitto.port,
        camera={
            "enabled": True,
            "source": str(video),
            "loop": False,  # at its end the file is reopened: plays again while it is there
            "stale_after_s": 1.0,
            "lost_alert_after_s": 2.0,
            "reconnect_min_s": 0.2,
            "reconnect_max_s": 0.5,
        },
        vision={"models_dir": str(REPO / "models")},
    )
    c = collector_factory(mosquitto.port, "triage/v1/#")
    agent = agent_process(write_config(tmp_path / "agent.toml", raw))

    def camera_lost(state: str) -> Callable[[list[Any]], bool]:
        def seen(messages: list[Any]) -> bool:
            return any(
                m.topic.endswith("/alert")
                and m.json()["alert"] == "camera_lost"
                and m.json()["state"] == state
                for m in messages
            )

        return seen

    def camera_ok(messages: list[Any]) -> bool:
        return any(
            m.topic.endswith("/health")
            and m.json()["sources"].get("camera", {}).get("state") == "ok"
            for m in messages
        )

    try:
        c.wait_for(camera_ok, timeout=60)
        video.unlink()  # gone: the open file plays to its end (4 s), then cannot be reopened
        c.wait_for(camera_lost("raised"), timeout=60)
        video.write_bytes(kept)  # back
        c.wait_for(camera_lost("cleared"), timeout=60)
    finally:
        rc = agent.stop()
    assert rc == 0, agent.output()
    mine = [
        validate_message(m)
        for m in c.messages
        if m.topic.endswith("/alert") and m.json()["alert"] == "camera_lost"
    ]
    assert [d["state"] for d in mine] == ["raised", "cleared"]
    assert mine[0]["alert_id"] == mine[1]["alert_id"]
    assert mine[1]["message"] == "camera delivering again"
